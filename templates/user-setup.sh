#!/bin/sh
# kiln user setup: makes NAME (UID:GID) exist in this image, the way kiln's
# Dockerfiles and kiln's legacy-image adaptation both need it.
#
#   user-setup.sh NAME UID GID HOME SHELL SUDO(0|1) WORKSPACE
#
# Runs as root in POSIX sh (dash, busybox ash). Idempotent: running it twice
# changes nothing the second time. Existing accounts are adapted instead of
# failing: a group or user already holding GID/UID is renamed to NAME, a
# group or user called NAME with other ids gets GID/UID. Creation uses
# groupadd/useradd when present; every change to an existing account is a
# direct edit of /etc/passwd, /etc/group, /etc/shadow and /etc/gshadow,
# because usermod -u would chown the home folder recursively and busybox
# has no tool for most of these cases. Nothing is ever chowned recursively:
# only the home folder itself, its few dotfiles, ~/.local/bin and the
# workspace folder.
set -eu

die() {
  echo "kiln-user-setup: $*" >&2
  exit 1
}

[ "$#" -eq 7 ] || die "usage: user-setup.sh NAME UID GID HOME SHELL SUDO WORKSPACE"
K_NAME=$1 K_UID=$2 K_GID=$3 K_HOME=$4 K_SHELL=$5 K_SUDO=$6 K_WS=$7
export K_NAME K_UID K_GID K_HOME K_SHELL K_WS

case $K_NAME in '' | -* | *[!a-z0-9_-]*) die "bad user name '$K_NAME'" ;; esac
case $K_UID in '' | *[!0-9]*) die "bad uid '$K_UID'" ;; esac
case $K_GID in '' | *[!0-9]*) die "bad gid '$K_GID'" ;; esac
case $K_HOME in /*) ;; *) die "home '$K_HOME' is not absolute" ;; esac
case $K_WS in /*) ;; *) die "workspace '$K_WS' is not absolute" ;; esac
case $K_SUDO in 0 | 1) ;; *) die "SUDO must be 0 or 1" ;; esac
[ "$(id -u)" = 0 ] || die "must run as root"
[ -x "$K_SHELL" ] || {
  echo "kiln-user-setup: $K_SHELL not in the image; using /bin/sh" >&2
  K_SHELL=/bin/sh
}

have() { command -v "$1" >/dev/null 2>&1; }

# Field lookups. Values travel through ENVIRON, never awk -v, so that awk
# does not interpret backslashes in them.
field_where() { # FILE MATCH_COLUMN VALUE PRINT_COLUMN
  [ -f "$1" ] || return 0
  K_A=$3 awk -F: -v mc="$2" -v pc="$4" '$mc == ENVIRON["K_A"] { print $pc; exit }' "$1"
}
group_by_gid() { field_where /etc/group 3 "$1" 1; }
gid_of_group() { field_where /etc/group 1 "$1" 3; }
user_by_uid() { field_where /etc/passwd 3 "$1" 1; }
uid_of_user() { field_where /etc/passwd 1 "$1" 3; }

# Rewrites FILE through an awk program, keeping the file's owner and mode
# (cat into the original rather than mv over it).
edit() { # FILE PROGRAM
  [ -f "$1" ] || return 0
  awk -F: -v OFS=: "$2" "$1" >"$1.kiln-tmp" || {
    rm -f "$1.kiln-tmp"
    die "cannot edit $1"
  }
  cat "$1.kiln-tmp" >"$1"
  rm -f "$1.kiln-tmp"
}

# Renames ENVIRON[K_OLD] to ENVIRON[K_NEW] in column 1 when RENAME_ENTRY is
# 1, and in the comma-separated member columns given. A user's rename
# touches only member lists in the group files: a group of the same name
# is a separate account, handled by setup_group (renaming it with the user
# made two groups called NAME).
rename_in() { # FILE RENAME_ENTRY MEMBER_COLUMNS...
  file=$1
  entry=$2
  shift 2
  cols=$*
  edit "$file" '
    function members(list,   n, i, parts, out) {
      n = split(list, parts, ",")
      out = ""
      for (i = 1; i <= n; i++) {
        if (parts[i] == ENVIRON["K_OLD"]) parts[i] = ENVIRON["K_NEW"]
        out = out (i > 1 ? "," : "") parts[i]
      }
      return out
    }
    {
      if ('"$entry"' && $1 == ENVIRON["K_OLD"]) $1 = ENVIRON["K_NEW"]
      n = split("'"$cols"'", c, " ")
      for (i = 1; i <= n; i++) if (c[i] <= NF) $(c[i]) = members($(c[i]))
      print
    }'
}

rename_group() { # OLD NEW
  K_OLD=$1 K_NEW=$2
  export K_OLD K_NEW
  rename_in /etc/group 1
  rename_in /etc/gshadow 1
}

rename_user() { # OLD NEW
  K_OLD=$1 K_NEW=$2
  export K_OLD K_NEW
  rename_in /etc/passwd 1
  rename_in /etc/shadow 1
  rename_in /etc/group 0 4
  rename_in /etc/gshadow 0 3 4
}

# The group NAME with GID K_GID; users whose primary group was the old gid
# follow it, as groupmod -g does.
set_group_gid() { # OLD_GID
  K_OLD=$1
  export K_OLD
  edit /etc/group '$1 == ENVIRON["K_NAME"] { $3 = ENVIRON["K_GID"] } { print }'
  edit /etc/passwd '$4 == ENVIRON["K_OLD"] { $4 = ENVIRON["K_GID"] } { print }'
}

add_group() {
  if have groupadd; then
    groupadd -g "$K_GID" "$K_NAME"
  else
    echo "$K_NAME:x:$K_GID:" >>/etc/group
    [ ! -f /etc/gshadow ] || echo "$K_NAME:!::" >>/etc/gshadow
  fi
}

add_user() {
  if have useradd; then
    # -l: no lastlog/faillog entry (sparse files sized by the uid); -M: the
    # home folder is made below; '*' is no password without locking the
    # account (sshd refuses keys for locked accounts).
    useradd -l -M -N -u "$K_UID" -g "$K_GID" -d "$K_HOME" -s "$K_SHELL" -p '*' "$K_NAME"
  else
    echo "$K_NAME:x:$K_UID:$K_GID::$K_HOME:$K_SHELL" >>/etc/passwd
    [ ! -f /etc/shadow ] || echo "$K_NAME:*:0:0:99999:7:::" >>/etc/shadow
  fi
}

# uid, primary gid, home and shell of NAME.
set_user_fields() {
  edit /etc/passwd '$1 == ENVIRON["K_NAME"] {
    $3 = ENVIRON["K_UID"]; $4 = ENVIRON["K_GID"]; $6 = ENVIRON["K_HOME"]; $7 = ENVIRON["K_SHELL"]
  } { print }'
}

setup_group() {
  holder=$(group_by_gid "$K_GID")
  named_gid=$(gid_of_group "$K_NAME")
  if [ -n "$holder" ]; then
    # Keep root's group, and a NAME already used by another group.
    if [ "$holder" != "$K_NAME" ] && [ "$K_GID" != 0 ] && [ -z "$named_gid" ]; then
      rename_group "$holder" "$K_NAME"
    fi
  elif [ -n "$named_gid" ]; then
    set_group_gid "$named_gid"
  else
    add_group
  fi
}

setup_user() {
  holder=$(user_by_uid "$K_UID")
  named_uid=$(uid_of_user "$K_NAME")
  if [ "$K_UID" = 0 ]; then
    return 0 # root stays root
  fi
  if [ -n "$holder" ] && [ "$holder" != "$K_NAME" ]; then
    # NAME taken by another uid as well: move that account out of the way.
    [ -z "$named_uid" ] || rename_user "$K_NAME" "kiln-old-$named_uid"
    rename_user "$holder" "$K_NAME"
  elif [ -z "$holder" ] && [ -z "$named_uid" ]; then
    add_user
  fi
  set_user_fields
}

# Home: the folder itself, ~/.local/bin and the skeleton dotfiles, each
# chowned alone.
setup_home() {
  mkdir -p "$K_HOME/.local/bin"
  for f in /etc/skel/.[!.]*; do
    [ -f "$f" ] || continue
    dest=$K_HOME/${f##*/}
    [ -e "$dest" ] && continue
    cp "$f" "$dest"
    chown "$K_UID:$K_GID" "$dest"
  done
  chown "$K_UID:$K_GID" "$K_HOME" "$K_HOME/.local" "$K_HOME/.local/bin"
  mkdir -p /etc/profile.d
  cat >/etc/profile.d/kiln-local-bin.sh <<'EOF'
# kiln: ~/.local/bin first on PATH (pip install --user puts programs there).
case ":$PATH:" in
*":$HOME/.local/bin:"*) ;;
*) PATH="$HOME/.local/bin:$PATH" ;;
esac
EOF
}

setup_sudo() {
  dropin=/etc/sudoers.d/kiln-$K_NAME
  if [ "$K_SUDO" = 0 ]; then
    rm -f "$dropin"
  elif have sudo || [ -d /etc/sudoers.d ]; then
    mkdir -p /etc/sudoers.d
    echo "$K_NAME ALL=(ALL) NOPASSWD:ALL" >"$dropin.kiln-tmp"
    chmod 0440 "$dropin.kiln-tmp"
    mv "$dropin.kiln-tmp" "$dropin"
  else
    echo "kiln-user-setup: sudo is not installed; $K_NAME gets no sudo rights" >&2
  fi
}

# NAME once in each file: a second entry (a case not foreseen above) would
# make NAME resolve to the wrong ids. Other duplicates are the image's own.
check_unique() { # FILE WHAT
  [ -f "$1" ] || return 0
  n=$(awk -F: '$1 == ENVIRON["K_NAME"] { n++ } END { print n + 0 }' "$1")
  [ "$n" -le 1 ] || die "$1 names the $2 '$K_NAME' $n times after the setup"
}

[ -f /etc/group ] || : >/etc/group
[ -f /etc/passwd ] || : >/etc/passwd
setup_group
setup_user
check_unique /etc/group group
check_unique /etc/passwd user
setup_home
setup_sudo
mkdir -p "$K_WS"
chown "$K_UID:$K_GID" "$K_WS"
