"""Independent JWT implementation for crypto_test: Debian's python3-jwt (PyJWT).

  verify JWK_FILE TOKEN_FILE ALG  -> prints the verified claims as JSON; exit 1 if PyJWT refuses
  sign ALG                        -> prints {"jwk": <public JWK>, "token": <JWT signed by PyJWT>}
"""
import json
import sys

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa


def verify(jwk_file, token_file, alg):
    with open(jwk_file) as f:
        jwk = json.load(f)
    with open(token_file) as f:
        token = f.read().strip()
    key = jwt.PyJWK(jwk).key
    try:
        claims = jwt.decode(token, key=key, algorithms=[alg], options={"verify_aud": False})
    except jwt.PyJWTError as e:
        print("refused: %s" % e)
        return 1
    header = jwt.get_unverified_header(token)
    print(json.dumps({"header": header, "claims": claims}, sort_keys=True))
    return 0


def sign(alg):
    if alg == "EdDSA":
        priv = ed25519.Ed25519PrivateKey.generate()
        pub_jwk = jwt.algorithms.OKPAlgorithm.to_jwk(priv.public_key())
    elif alg == "ES256":
        priv = ec.generate_private_key(ec.SECP256R1())
        pub_jwk = jwt.algorithms.ECAlgorithm.to_jwk(priv.public_key())
    elif alg == "RS256":
        priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pub_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(priv.public_key())
    else:
        return 2
    jwk = json.loads(pub_jwk)
    jwk["kid"] = "py-1"
    token = jwt.encode({"sub": "python", "n": 7}, priv, algorithm=alg, headers={"kid": "py-1"})
    print(json.dumps({"jwk": jwk, "token": token}))
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "verify":
        sys.exit(verify(sys.argv[2], sys.argv[3], sys.argv[4]))
    sys.exit(sign(sys.argv[2]))
