# SPDX-License-Identifier: MIT
# FUSE request builders for the seed generators of the proto fuzz targets (gen-corpus-proto.py,
# gen-corpus-tree.py): the same wire layout the C side (fuse-req.c) cuts inputs by. Node ids and fhs 0x100+i
# name the i-th one a reply handed out earlier in the same input.
import os
import struct

OP = dict(LOOKUP=1, FORGET=2, GETATTR=3, SETATTR=4, READLINK=5, SYMLINK=6, MKNOD=8, MKDIR=9, UNLINK=10, RMDIR=11,
          RENAME=12, LINK=13, OPEN=14, READ=15, WRITE=16, STATFS=17, RELEASE=18, FSYNC=20, SETXATTR=21,
          GETXATTR=22, LISTXATTR=23, REMOVEXATTR=24, FLUSH=25, INIT=26, OPENDIR=27, READDIR=28, RELEASEDIR=29,
          FSYNCDIR=30, GETLK=31, SETLK=32, SETLKW=33, ACCESS=34, CREATE=35, INTERRUPT=36, BMAP=37, DESTROY=38,
          IOCTL=39, POLL=40, BATCH_FORGET=42, FALLOCATE=43, READDIRPLUS=44, RENAME2=45, LSEEK=46,
          COPY_FILE_RANGE=47, SETUPMAPPING=48, REMOVEMAPPING=49, SYNCFS=50, TMPFILE=51)
# the first id or fh a reply handed out in this input
SEEN0 = 0x100
_uniq = [100]


def req(op, nodeid, payload=b""):
    """A request: fuse_in_header (uid 0, gid 1) and its payload."""
    _uniq[0] += 1
    return struct.pack("<IIQQIIIHH", 40 + len(payload), OP[op], _uniq[0], nodeid, 0, 0, 1, 0, 0) + payload


def name(s):
    return s.encode() + b"\0"


def read_in(fh, off=0, size=4096):
    """fuse_read_in (also READDIR's)."""
    return struct.pack("<QQIIQII", fh, off, size, 0, 0, 0, 0)


def write_seeds(corpus, seeds):
    """Write each seed as a file of its name into tests/fuzz/<corpus>/."""
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), corpus)
    os.makedirs(out, exist_ok=True)
    for k, v in seeds.items():
        with open(os.path.join(out, k), "wb") as f:
            f.write(v)
    print(f"wrote {len(seeds)} seeds to {out}")
