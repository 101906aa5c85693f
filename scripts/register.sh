#!/usr/bin/env bash
# Registers the taskcred plugin with a Vault or OpenBao server (docs/release.md):
#   1. copies the binary into the server's plugin directory (as
#      taskcred-<version> where the server keeps versions side by side,
#      else as taskcred);
#   2. registers it in the catalog by its SHA-256, with -version where the
#      server supports versioned plugins (Vault >= 1.12, OpenBao);
#   3. with --mount, enables the secrets engine there, or, when the mount
#      runs another build, moves it to this one and reloads it.
# Run it again and nothing changes: what is in place is left alone. Talks to
# the server through its CLI (VAULT_ADDR, VAULT_TOKEN, ... as usual).
set -euo pipefail

prog=$(basename "$0")
usage() {
  cat <<USAGE
usage: $prog --plugin-dir DIR [--binary PATH] [--name NAME] [--mount PATH]
       [--args "ARG ..."] [--env KEY=VALUE]... [--bao | --cli PATH] [--no-reload]

  --plugin-dir DIR  the server's plugin_directory (must be on this machine)
  --binary PATH     the plugin binary (default: taskcred beside this script,
                    then /usr/lib/vault/plugins/taskcred)
  --name NAME       catalog name (default: taskcred)
  --mount PATH      enable the engine at PATH, or move an existing mount of
                    it to this build and reload it
  --args "..."      arguments the server passes the plugin (e.g. -event-loops=2)
  --env KEY=VALUE   environment the server passes the plugin (repeatable)
  --bao             use OpenBao's CLI (bao); same as VAULT_BIN=bao
  --cli PATH        the CLI to use (default: \$VAULT_BIN, else vault, else bao)
  --no-reload       never reload mounts (the new build runs from their next start)
USAGE
}

die() { echo "$prog: $*" >&2; exit 1; }
say() { echo "$prog: $*"; }

plugin_dir="" binary="" name="taskcred" mount="" plugin_args="" cli="${VAULT_BIN:-}" reload=1
envs=()
while (($#)); do
  case "$1" in
    --plugin-dir) plugin_dir=${2:?}; shift 2 ;;
    --binary) binary=${2:?}; shift 2 ;;
    --name) name=${2:?}; shift 2 ;;
    --mount) mount=${2:?}; mount=${mount%/}; shift 2 ;;
    --args) plugin_args=${2?}; shift 2 ;;
    --env) [[ ${2:-} == *=* ]] || die "--env takes KEY=VALUE"; envs+=("$2"); shift 2 ;;
    --bao) cli=bao; shift ;;
    --cli) cli=${2:?}; shift 2 ;;
    --no-reload) reload=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ -n $plugin_dir ]] || { usage >&2; die "--plugin-dir is required"; }
[[ -d $plugin_dir ]] || die "plugin directory $plugin_dir does not exist"
[[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "--name: letters, digits, '.', '_' and '-' only"

if [[ -z $binary ]]; then
  here=$(cd "$(dirname "$0")" && pwd)
  for candidate in "$here/taskcred" /usr/lib/vault/plugins/taskcred; do
    if [[ -f $candidate ]]; then binary=$candidate; break; fi
  done
  [[ -n $binary ]] || die "no taskcred binary found: pass --binary PATH"
fi
[[ -f $binary && -x $binary ]] || die "$binary is not an executable file"

if [[ -z $cli ]]; then
  if command -v vault >/dev/null; then cli=vault; elif command -v bao >/dev/null; then cli=bao; else
    die "neither vault nor bao is on PATH: pass --cli PATH or set VAULT_BIN"
  fi
fi
command -v "$cli" >/dev/null || die "$cli: not found"

# The plugin's own version (first line of --version: "taskcred v0.1.0").
version=$("$binary" --version 2>/dev/null | head -n1 | awk '{print $2}') || true
[[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+ ]] || die "$binary --version did not print a version: is it taskcred?"

# Reachable and unsealed? (seal-status needs no token.)
if ! server_version=$("$cli" read -field=version sys/seal-status 2>&1); then
  die "cannot reach the server at ${VAULT_ADDR:-${BAO_ADDR:-its default address}}: $server_version"
fi
sealed=$("$cli" read -field=sealed sys/seal-status 2>/dev/null || echo unknown)
[[ $sealed == false ]] || die "the server is sealed (or its seal status is unknown): unseal it first"

# Versioned plugins: OpenBao always, Vault from 1.12.
versioned=0
if [[ $(basename "$cli") == bao* ]]; then
  versioned=1
else
  IFS=. read -r major minor _ <<<"${server_version#v}"
  minor=${minor%%[!0-9]*}
  [[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]] || die "the server reports version '$server_version', which is not x.y.z"
  if ((major > 1 || (major == 1 && minor >= 12))); then versioned=1; fi
fi

# The token must be allowed to write the catalog (sudo) before anything is copied.
caps=$("$cli" token capabilities "sys/plugins/catalog/secret/$name" 2>&1) ||
  die "checking the token's rights failed: $caps"
if [[ $caps != *root* && ! ($caps == *sudo* && ($caps == *update* || $caps == *create*)) ]]; then
  die "the token may not register plugins (capabilities on sys/plugins/catalog/secret/$name: $caps; needs sudo and update)"
fi

# 1. Copy (atomically; only when the content differs).
if ((versioned)); then command_name="$name-$version"; else command_name="$name"; fi
target="$plugin_dir/$command_name"
sha=$(sha256sum "$binary" | cut -d' ' -f1)
if [[ -f $target ]] && [[ $(sha256sum "$target" | cut -d' ' -f1) == "$sha" ]]; then
  say "$target is already this build"
else
  tmp=$(mktemp "$plugin_dir/.$command_name.XXXXXX")
  cp "$binary" "$tmp" && chmod 0755 "$tmp" && mv -f "$tmp" "$target" || { rm -f "$tmp"; die "copying to $target failed"; }
  say "copied $binary to $target"
fi

# 2. Register, unless the catalog already has exactly this.
version_query=() version_flag=()
if ((versioned)); then version_query=("version=$version"); version_flag=("-version=$version"); fi
registered_sha=$("$cli" read -field=sha256 "sys/plugins/catalog/secret/$name" "${version_query[@]}" 2>/dev/null || true)
register=(plugin register "-sha256=$sha" "-command=$command_name" "${version_flag[@]}")
for a in $plugin_args; do register+=("-args=$a"); done
for e in "${envs[@]}"; do register+=("-env=$e"); done
# --args and --env register again every time (the catalog's copy of them is
# not compared); without them, the same SHA-256 means nothing to do.
if [[ $registered_sha == "$sha" && -z $plugin_args && ${#envs[@]} -eq 0 ]]; then
  say "secret/$name ${version_flag[*]:+$version }is already registered with this build"
  changed=0
else
  out=$("$cli" "${register[@]}" secret "$name" 2>&1) || die "registering failed: $out"
  say "registered secret/$name ${version_flag[*]:+$version }(sha256 $sha)"
  changed=1
fi

# 3. The mount.
[[ -n $mount ]] || exit 0
mount_type=$("$cli" secrets list 2>/dev/null | awk -v p="$mount/" '$1 == p {print $2}')
if [[ -z $mount_type ]]; then
  enable=(secrets enable "-path=$mount")
  ((versioned)) && enable+=("-plugin-version=$version")
  out=$("$cli" "${enable[@]}" "$name" 2>&1) || die "enabling $mount failed: $out"
  say "enabled $name at $mount/"
  exit 0
fi
[[ $mount_type == "$name" ]] || die "$mount/ is already a mount of type $mount_type, not $name"
if ((versioned)); then
  running=$("$cli" read -field=running_plugin_version "sys/mounts/$mount" 2>/dev/null || true)
  if [[ $running != "$version" ]]; then
    out=$("$cli" secrets tune "-plugin-version=$version" "$mount" 2>&1) || die "moving $mount/ to $version failed: $out"
    say "$mount/ set to $version (was ${running:-unversioned})"
  elif ((!changed)); then
    say "$mount/ already runs $version"
    exit 0
  fi
elif ((!changed)); then
  say "$mount/ runs this build"
  exit 0
fi
if ((reload)); then
  out=$("$cli" plugin reload "-mounts=$mount" 2>&1) || die "reloading $mount/ failed: $out"
  say "reloaded $mount/"
else
  say "not reloaded (--no-reload): $mount/ runs the new build from its next start"
fi
