#!/usr/bin/env python3
# Writes the seed corpus of fuzz-proto (tests/fuzz/corpus-proto/): valid requests of each opcode, as they
# follow the INIT the harness sends. Node ids and fhs 0x100+i name the i-th one a reply handed out earlier in
# the same input (see fuse-req.h). Run from anywhere: python3 tests/fuzz/gen-corpus-proto.py
import struct

from fuse_req import SEEN0, name, read_in, req, write_seeds

N0, F0 = SEEN0, SEEN0


def lk_in(fh, start, end, typ, flags=0):
    return struct.pack("<QQQQIIII", fh, 1, start, end, typ, 1, flags, 0)


def open_in(flags):
    return struct.pack("<II", flags, 0)


def create_in(flags, mode):
    return struct.pack("<IIII", flags, mode, 0o022, 0)


O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_DIRECTORY = 0, 1, 2, 0o100, 0o1000, 0o200000
S_IFREG, S_IFDIR = 0o100000, 0o040000
seeds = {
    "lookup": req("LOOKUP", 1, name("file")),
    "lookup-dotdot": req("LOOKUP", 1, name("..")) + req("LOOKUP", 1, name("escape")),
    "forget": req("LOOKUP", 1, name("file")) + req("FORGET", N0, struct.pack("<Q", 1)),
    "batch-forget": req("LOOKUP", 1, name("dir")) + req("BATCH_FORGET", 0, struct.pack("<II", 1, 0) +
                                                        struct.pack("<QQ", N0, 1)),
    "getattr": req("GETATTR", 1, struct.pack("<IIQ", 0, 0, 0)),
    "setattr": req("LOOKUP", 1, name("file")) + req("SETATTR", N0, struct.pack(
        "<IIQQQQQQIIIIIIII", 1 | 8 | 16 | 32, 0, 0, 5, 0, 1000, 2000, 0, 1, 2, 0, 0o600, 0, 0, 0, 0)),
    "readlink": req("LOOKUP", 1, name("link")) + req("READLINK", N0),
    "symlink": req("SYMLINK", 1, name("sl") + name("file")),
    "mknod": req("MKNOD", 1, struct.pack("<IIII", S_IFREG | 0o644, 0, 0o022, 0) + name("node")),
    "mkdir": req("MKDIR", 1, struct.pack("<II", 0o755, 0o022) + name("newdir")),
    "unlink": req("SYMLINK", 1, name("gone") + name("x")) + req("UNLINK", 1, name("gone")),
    "rmdir": req("MKDIR", 1, struct.pack("<II", 0o755, 0) + name("d2")) + req("RMDIR", 1, name("d2")),
    "rename": req("RENAME", 1, struct.pack("<Q", 1) + name("file") + name("file2")) +
              req("RENAME", 1, struct.pack("<Q", 1) + name("file2") + name("file")),
    "rename2": req("RENAME2", 1, struct.pack("<QII", 1, 2, 0) + name("file") + name("link")) +
               req("RENAME2", 1, struct.pack("<QII", 1, 2, 0) + name("file") + name("link")),
    "link": req("LOOKUP", 1, name("file")) + req("LINK", 1, struct.pack("<Q", 1) + name("hard")),
    "open-read": req("LOOKUP", 1, name("file")) + req("OPEN", N0, open_in(O_RDONLY)) +
                 req("READ", N0, read_in(F0, 0, 4096)) + req("FLUSH", N0, struct.pack("<QIIQ", F0, 0, 0, 0)) +
                 req("RELEASE", N0, struct.pack("<QIIQ", F0, 0, 0, 0)),
    "create-write": req("CREATE", 1, create_in(O_RDWR | O_CREAT, S_IFREG | 0o644) + name("w")) +
                    req("WRITE", N0, struct.pack("<QQIIQII", F0, 0, 4, 0, 0, 0, 0) + b"data") +
                    req("FSYNC", N0, struct.pack("<QII", F0, 1, 0)) +
                    req("LSEEK", N0, struct.pack("<QQII", F0, 0, 3, 0)) +
                    req("FALLOCATE", N0, struct.pack("<QQQII", F0, 0, 8192, 0, 0)) +
                    req("RELEASE", N0, struct.pack("<QIIQ", F0, 0, 0, 0)),
    "tmpfile": req("TMPFILE", 1, create_in(O_RDWR, S_IFREG | 0o600) + name("/")),
    "readdir": req("OPENDIR", 1, open_in(O_RDONLY | O_DIRECTORY)) + req("READDIR", 1, read_in(F0, 0, 4096)) +
               req("READDIRPLUS", 1, read_in(F0, 0, 4096)) + req("FSYNCDIR", 1, struct.pack("<QII", F0, 0, 0)) +
               req("RELEASEDIR", 1, struct.pack("<QIIQ", F0, 0, 0, 0)),
    "statfs": req("STATFS", 1),
    "xattr": req("SETXATTR", 1, struct.pack("<IIII", 1, 0, 0, 0) + name("user.a") + b"v") +
             req("GETXATTR", 1, struct.pack("<II", 0, 0) + name("user.a")) +
             req("GETXATTR", 1, struct.pack("<II", 64, 0) + name("user.a")) +
             req("LISTXATTR", 1, struct.pack("<II", 256, 0)) + req("REMOVEXATTR", 1, name("user.a")),
    "access": req("ACCESS", 1, struct.pack("<II", 7, 0)),
    "locks": req("LOOKUP", 1, name("file")) + req("OPEN", N0, open_in(O_RDWR)) +
             req("GETLK", N0, lk_in(F0, 0, 100, 1)) + req("SETLK", N0, lk_in(F0, 0, 100, 1)) +
             req("SETLKW", N0, lk_in(F0, 0, 0x7fffffffffffffff, 0, 1)) +
             req("SETLK", N0, lk_in(F0, 0, 100, 2)) + req("RELEASE", N0, struct.pack("<QIIQ", F0, 0, 2, 0)),
    "copy-file-range": req("LOOKUP", 1, name("file")) + req("OPEN", N0, open_in(O_RDONLY)) +
                       req("CREATE", 1, create_in(O_RDWR | O_CREAT, S_IFREG | 0o644) + name("c")) +
                       req("COPY_FILE_RANGE", N0, struct.pack("<QQQQQQQ", F0, 0, N0 + 1, F0 + 1, 0, 12, 0)),
    "syncfs": req("SYNCFS", 1, struct.pack("<Q", 0)),
    "interrupt": req("INTERRUPT", 0, struct.pack("<Q", 5)),
    "destroy": req("DESTROY", 0),
    "refused": req("IOCTL", 1, b"\0" * 32) + req("POLL", 1, b"\0" * 24) + req("BMAP", 1, b"\0" * 16) +
               req("SETUPMAPPING", 1, b"\0" * 40) + req("REMOVEMAPPING", 1, b"\0" * 8),
    "short-header": b"\x10\0\0\0\x01\0\0\0",
}
write_seeds("corpus-proto", seeds)
