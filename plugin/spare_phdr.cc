// A spare program header for the post-link layout (scripts/bolt_plugin.sh).
//
// BOLT 15 gives its new code segment a program header either by taking the
// PT_GNU_STACK one (-use-gnu-stack) or by moving the whole table into the new
// segment, which objcopy and strip then cannot lay out (the stripped binary
// does not start). So the script lets BOLT take PT_GNU_STACK and turns this
// note's own PT_NOTE header back into PT_GNU_STACK: a note aligned to 8,
// unlike the build-id and ABI notes (4), gets a PT_NOTE of its own from the
// linker. Its content, note type 1 of owner "taskcred", means nothing.
asm(".pushsection .note.taskcred.spare,\"a\",@note\n"
    ".balign 8\n"
    ".long 9\n"   // namesz: "taskcred\0"
    ".long 8\n"   // descsz
    ".long 1\n"   // type
    ".asciz \"taskcred\"\n"
    ".balign 8\n"  // name and desc padded to the note's alignment
    ".quad 0\n"
    ".popsection\n");
