#!/usr/bin/env python3
"""A stand-in for the vault/bao CLI, for testing scripts/register.sh where no
server exists. It keeps the server's state in the JSON file named by
FAKE_VAULT_STATE and answers the commands register.sh uses as the real CLI
does (output formats, exit codes, refusals), checking what a server checks:
the registered command must exist in the plugin directory with that SHA-256,
-version is refused before Vault 1.12, a mount needs a catalog entry. Every
call is appended to state["calls"].
"""
import hashlib
import json
import os
import sys


def load():
    with open(os.environ["FAKE_VAULT_STATE"]) as f:
        return json.load(f)


def save(state):
    with open(os.environ["FAKE_VAULT_STATE"], "w") as f:
        json.dump(state, f, indent=1, sort_keys=True)


def fail(msg, code=2):
    print(msg, file=sys.stderr)
    sys.exit(code)


def versioned(state):
    if os.path.basename(sys.argv[0]).startswith("bao"):
        return True
    major, minor = (int(x) for x in state["version"].split(".")[:2])
    return (major, minor) >= (1, 12)


def flags(args):
    out, rest = {}, []
    for a in args:
        if a.startswith("-") and "=" in a:
            k, v = a.lstrip("-").split("=", 1)
            out.setdefault(k, []).append(v)
        else:
            rest.append(a)
    return out, rest


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    state = load()
    args = sys.argv[1:]
    state.setdefault("calls", []).append(args)
    save(state)
    if state.get("down"):
        fail("Error checking seal status: Get \"http://127.0.0.1:8200/v1/sys/seal-status\": "
             "dial tcp 127.0.0.1:8200: connect: connection refused")
    cmd = args[:2]
    f, rest = flags(args[2:] if cmd[0] != "read" else args[1:])

    if cmd[0] == "read":
        field = f.get("field", [None])[0]
        path, query = rest[0], dict(kv.split("=", 1) for kv in rest[1:])
        if path == "sys/seal-status":
            data = {"version": state["version"], "sealed": state.get("sealed", False)}
        elif path.startswith("sys/plugins/catalog/secret/"):
            name = path.rsplit("/", 1)[1]
            entry = state.get("catalog", {}).get(name, {}).get(query.get("version", ""))
            if entry is None:
                fail("No value found at " + path)
            data = entry
        elif path.startswith("sys/mounts/"):
            if not versioned(state):
                fail("Error reading " + path + ": Code: 405")
            m = state.get("mounts", {}).get(path[len("sys/mounts/"):] + "/")
            if m is None:
                fail("No value found at " + path)
            data = m
        else:
            fail("No value found at " + path)
        value = data.get(field)
        if isinstance(value, bool):
            value = "true" if value else "false"
        print(value if value is not None else "")
        return 0

    if state.get("sealed"):
        fail("Error: Vault is sealed")

    if cmd == ["token", "capabilities"]:
        print(state.get("caps", "root"))
        return 0

    if cmd == ["plugin", "register"]:
        if "version" in f and not versioned(state):
            fail("flag provided but not defined: -version", 1)
        if "sudo" not in state.get("caps", "root") and "root" not in state.get("caps", "root"):
            fail("Error registering plugin: permission denied")
        kind, name = rest
        command = f["command"][0]
        path = os.path.join(os.environ["FAKE_VAULT_PLUGIN_DIR"], command)
        if not os.path.isfile(path) or sha256(path) != f["sha256"][0]:
            fail("Error registering plugin " + name + ": plugin checksum mismatch or missing binary")
        version = f.get("version", [""])[0]
        state.setdefault("catalog", {}).setdefault(name, {})[version] = {
            "sha256": f["sha256"][0], "command": command, "version": version,
            "args": f.get("args", []), "env": f.get("env", [])}
        save(state)
        print("Success! Registered plugin: " + name)
        return 0

    if cmd == ["secrets", "list"]:
        print("Path          Type         Accessor              Description")
        print("----          ----         --------              -----------")
        for p, m in sorted(state.get("mounts", {}).items()):
            print(f"{p:<13} {m['type']:<12} {m['type']}_0000  n/a")
        return 0

    if cmd == ["secrets", "enable"]:
        name = rest[0]
        version = f.get("plugin-version", [""])[0]
        if "plugin-version" in f and not versioned(state):
            fail("flag provided but not defined: -plugin-version", 1)
        entry = state.get("catalog", {}).get(name, {}).get(version)
        if entry is None:
            fail("Error enabling: plugin not found in the catalog: " + name + " " + version)
        path = f["path"][0].rstrip("/") + "/"
        if path in state.get("mounts", {}):
            fail("Error enabling: path is already in use at " + path)
        state.setdefault("mounts", {})[path] = {
            "type": name, "plugin_version": version,
            "running_plugin_version": version, "running_sha256": entry["sha256"]}
        save(state)
        print("Success! Enabled the " + name + " secrets engine at: " + path)
        return 0

    if cmd == ["secrets", "tune"]:
        path = rest[0].rstrip("/") + "/"
        m = state.get("mounts", {}).get(path)
        if m is None:
            fail("Error tuning: no mount at " + path)
        version = f["plugin-version"][0]
        if version not in state.get("catalog", {}).get(m["type"], {}):
            fail("Error tuning: plugin version " + version + " not found in the catalog")
        m["plugin_version"] = version
        save(state)
        print("Success! Tuned the secrets engine at: " + path)
        return 0

    if cmd == ["plugin", "reload"]:
        path = f["mounts"][0].rstrip("/") + "/"
        m = state.get("mounts", {}).get(path)
        if m is None:
            fail("Error reloading: no mount at " + path)
        entry = state["catalog"][m["type"]][m["plugin_version"]]
        m["running_plugin_version"] = m["plugin_version"]
        m["running_sha256"] = entry["sha256"]
        state.setdefault("reloads", []).append(path)
        save(state)
        print("Success! Reloaded mounts: [" + path + "]")
        return 0

    fail("fake vault: unknown command " + " ".join(args), 1)


if __name__ == "__main__":
    sys.exit(main())
