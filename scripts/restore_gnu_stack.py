#!/usr/bin/env python3
"""Gives a BOLT-processed executable its PT_GNU_STACK program header back.

usage: restore_gnu_stack.py ELF

BOLT -use-gnu-stack turns the PT_GNU_STACK header into its new code
segment's. Without one, glibc maps thread stacks executable and kernels
before 5.8 make every readable mapping executable. The linker gave the note
of plugin/spare_phdr.cc (owner "taskcred") a PT_NOTE header of its own; this
turns that header into PT_GNU_STACK (read + write, no execute). The note
stays in its section.
"""
import struct
import sys

PT_NOTE, PT_GNU_STACK = 4, 0x6474E551
PF_W, PF_R = 2, 4
PHDR = "<IIQQQQQQ"  # type, flags, offset, vaddr, paddr, filesz, memsz, align


def main(path):
    with open(path, "r+b") as f:
        elf = bytearray(f.read())
        if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
            sys.exit(f"{path}: not a little-endian ELF64 file")
        (phoff,) = struct.unpack_from("<Q", elf, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
        headers = [phoff + i * phentsize for i in range(phnum)]
        fields = [struct.unpack_from(PHDR, elf, h) for h in headers]
        if any(fl[0] == PT_GNU_STACK for fl in fields):
            sys.exit(f"{path}: already has PT_GNU_STACK")
        spare = [h for h, fl in zip(headers, fields)
                 if fl[0] == PT_NOTE and b"taskcred\0" in elf[fl[2]:fl[2] + fl[5]]]
        if len(spare) != 1:
            sys.exit(f"{path}: no spare PT_NOTE of owner taskcred (plugin/spare_phdr.cc)")
        struct.pack_into(PHDR, elf, spare[0], PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 0, 16)
        f.seek(0)
        f.write(elf)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
