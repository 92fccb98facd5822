#!/usr/bin/env python3
# Writes the seed corpus of fuzz-tree (tests/fuzz/corpus-tree/): request sequences over the share tree the
# harness builds (see fuzz-tree.c). Node ids and fhs 0x100+i name the i-th one a reply handed out earlier in
# the same input. Run from anywhere: python3 tests/fuzz/gen-corpus-tree.py
import struct

from fuse_req import SEEN0, name, read_in, req, write_seeds

N, F = SEEN0, SEEN0


def lookup(parent, n):
    return req("LOOKUP", parent, name(n))


def open_(node, flags=0):
    return req("OPEN", node, struct.pack("<II", flags, 0))


def opendir(node):
    return req("OPENDIR", node, struct.pack("<II", 0o200000, 0))


def release(node, fh, op="RELEASE"):
    return req(op, node, struct.pack("<QIIQ", fh, 0, 0, 0))


O_RDWR, O_TRUNC = 2, 0o1000
seeds = {
    "read-entry": lookup(1, "data") + lookup(N, "file") + lookup(N, "sub") + lookup(N + 2, "inner")
    + open_(N + 3) + req("READ", N + 3, read_in(F)) + release(N + 3, F),
    "list-root": opendir(1) + req("READDIR", 1, read_in(F, 0, 200)) + req("READDIR", 1, read_in(F, 4, 200))
    + req("READDIRPLUS", 1, read_in(F, 0, 4096)) + release(1, F, "RELEASEDIR"),
    "list-merged": lookup(1, "data") + lookup(N, "sub") + opendir(N + 1) + req("READDIRPLUS", N + 1, read_in(F))
    + req("READDIR", N + 1, read_in(F, (1 << 32) + 1, 4096)) + release(N + 1, F, "RELEASEDIR"),
    "file-entry": lookup(1, "etc") + lookup(N, "conf") + lookup(N + 1, "..") + lookup(N + 1, "x")
    + open_(N + 1, O_RDWR) + open_(N + 1) + req("READ", N + 1, read_in(F)) + opendir(N + 1)
    + req("GETATTR", N + 1, struct.pack("<IIQ", 0, 0, 0)),
    "exdev": lookup(1, "data") + lookup(1, "srv") + lookup(N + 1, "deep") + lookup(N + 2, "x")
    + req("RENAME", N, struct.pack("<Q", N + 3) + name("file") + name("moved"))
    + lookup(N, "sub") + lookup(N + 4, "inner")
    + req("LINK", N + 3, struct.pack("<Q", N + 5) + name("hl"))
    + req("RENAME2", N, struct.pack("<QII", N, 1, 0) + name("link") + name("link2")),
    "virtual": lookup(1, "etc") + lookup(N, "hostname") + open_(N + 1) + req("READ", N + 1, read_in(F, 1, 2))
    + req("LSEEK", N + 1, struct.pack("<QQII", F, 0, 3, 0)) + release(N + 1, F)
    + lookup(1, "v") + lookup(N + 2, "w") + lookup(N + 3, "x") + req("ACCESS", N + 4, struct.pack("<II", 2, 0)),
    "status": lookup(1, ".status") + open_(N) + req("READ", N, read_in(F)) + open_(N)
    + req("READ", N, read_in(F, 10, 5)) + req("FORGET", N, struct.pack("<Q", 1)),
    "ro-entry": lookup(1, "ro") + req("CREATE", N, struct.pack("<IIII", 0o101, 0o644, 0o22, 0) + name("n"))
    + req("MKDIR", N, struct.pack("<II", 0o755, 0o22) + name("d")) + lookup(N, "file") + open_(N + 1, O_TRUNC)
    + req("SETATTR", N + 1, bytes(88)) + req("UNLINK", N, name("file")) + req("STATFS", N),
    "rw-entry": lookup(1, "data") + req("CREATE", N, struct.pack("<IIII", 0o102, 0o644, 0o22, 0) + name("new"))
    + req("WRITE", N + 1, struct.pack("<QQIIQII", F, 0, 5, 0, 0, 0, 0) + b"hello")
    + req("MKDIR", N, struct.pack("<II", 0o755, 0o22) + name("dir"))
    + req("SYMLINK", N, name("lnk") + name("../etc/conf")) + lookup(N, "lnk"),
    "host": lookup(1, "host") + opendir(N) + req("READDIRPLUS", N, read_in(F)) + lookup(N, "escape")
    + req("READLINK", N + 1) + lookup(N, "hostfile") + open_(N + 2) + req("READ", N + 2, read_in(F + 1))
    + req("GETXATTR", N + 2, struct.pack("<II", 64, 0) + name("user.x")),
    "synthetic": req("MKDIR", 1, struct.pack("<II", 0o755, 0o22) + name("x")) + lookup(1, "srv")
    + req("RMDIR", 1, name("data")) + req("UNLINK", N, name("deep")) + req("STATFS", 1)
    + req("TMPFILE", N, struct.pack("<IIII", 2, 0o600, 0, 0)) + req("LISTXATTR", N, struct.pack("<II", 0, 0)),
}

write_seeds("corpus-tree", seeds)
