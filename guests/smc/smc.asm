; smc.asm — wasmvisor's self-checking test kernel for self-modifying code: stores that rewrite
; the next instruction, later and earlier instructions of the running loop, a called function
; between calls, an instruction's length, and code in a page mapped twice (written through one
; linear alias, executed through the other, also from inside the aliased code itself).
; Every loop runs 100 to 300 times, so a JIT compiles it (and chains it) before it is rewritten.
;
; Built with `nasm -f bin -I guests/smc/ -I guests/common/ -o smc.bin smc.asm`: a flat
; Multiboot v1 kernel (a.out kludge) loaded at 1 MiB, entered in 32-bit protected mode; it loads
; its own GDT (null, 0x08 flat code, 0x10 flat data) and IDT (0-31: any exception is unexpected
; and ends the run). Ring 0, interrupts disabled. Needs 4 MiB of RAM (page tables at 2 MiB).
;
; Each case prints "PASS smc.<name>" or "FAIL smc.<name> got X want Y (check N)" on COM1; then
; "smc: N passed, M failed", and the run exits through port 0xF4 with the failure count.
; The values are architectural (SDM Vol. 3A 8.1.3: a store to code is seen by the next
; instruction fetched); checked under QEMU 7.2 (TCG). guests/smc/expected.txt holds the output.

BITS 32
ORG 0x00100000

CODE_SEL    equ 0x08
DATA_SEL    equ 0x10
EFL_RSVD    equ 0x00000002

; Paging for the alias case: an identity map of 0-4 MiB (4 KiB pages) and, at 4 MiB, two linear
; pages both mapping the physical page ALIAS_PHYS.
PD          equ 0x200000
PT_LOW      equ 0x201000
PT_ALIAS    equ 0x202000
ALIAS_PHYS  equ 0x203000
EXEC_VIEW   equ 0x400000        ; executed through this alias
WRITE_VIEW  equ 0x401000        ; written through this one
PTE_PRW     equ 0x003           ; present, writable, supervisor

%include "report.inc"
%include "selfcheck.inc"
%include "descriptors.inc"
%include "multiboot-aout.inc"

_start:
    FLAT_ENTRY
    push dword EFL_RSVD
    popfd
    call install_idt

%include "cases.inc"

    jmp finish

%include "lib.inc"

; ---- data -------------------------------------------------------------------------------
    SELFCHECK_DATA "smc.", "smc: "
ex_mode:        dd 0

FLAT_GDT
TABLE_REGISTERS 32

    align 4
load_end:

    absolute load_end
    alignb 8
idt:        resb 32 * 8
    alignb 16
            resb 4096
stack_top:
bss_end:
