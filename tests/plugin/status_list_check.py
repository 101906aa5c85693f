"""A resource service's reading of a taskcred status list, with independent
implementations: PyJWT (python3-jwt) verifies the list token against the
mount's JWKS, Python's zlib inflates the list.

  status_list_check.py JWKS_FILE TOKEN_FILE
    -> prints {"header": ..., "claims": ..., "set": [indices whose bit is 1]}
       exit 1 when PyJWT refuses the token or the list is malformed
"""
import base64
import json
import sys
import zlib

import jwt


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def main(jwks_file, token_file):
    with open(jwks_file) as f:
        jwks = jwt.PyJWKSet.from_dict(json.load(f))
    with open(token_file) as f:
        token = f.read().strip()
    header = jwt.get_unverified_header(token)
    if header.get("typ") != "statuslist+jwt":
        print("refused: typ is %r" % header.get("typ"))
        return 1
    key = next((k for k in jwks.keys if k.key_id == header.get("kid")), None)
    if key is None:
        print("refused: kid not in the jwks")
        return 1
    try:
        claims = jwt.decode(token, key=key.key, algorithms=[header["alg"]],
                            options={"require": ["sub", "iat", "exp"]})
    except jwt.PyJWTError as e:
        print("refused: %s" % e)
        return 1
    status_list = claims["status_list"]
    if status_list.get("bits") != 1:
        print("refused: bits is not 1")
        return 1
    raw = zlib.decompress(b64url_decode(status_list["lst"]))
    # The draft's order: bit i is bit (i % 8) of byte i // 8, least significant first.
    set_bits = [i for i in range(len(raw) * 8) if raw[i // 8] >> (i % 8) & 1]
    print(json.dumps({"header": header, "claims": claims, "size": len(raw), "set": set_bits}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
