; debug.asm — wasmvisor's self-checking test kernel for the debug features (Intel SDM
; Vol. 3A ch. 17): TF single-step, DR0-DR3 instruction, data and I/O breakpoints, DR7.GD,
; INT3 and ICEBP, and DR6.
;
; Built with `nasm -f bin -I guests/debug/ -I guests/common/ -o debug.bin debug.asm`: a flat
; Multiboot v1 kernel (a.out kludge) loaded at 1 MiB, entered in 32-bit protected mode; it
; loads its own GDT (null, 0x08 flat code, 0x10 flat data) and IDT (0-31: one handler that
; records vector, error code, saved EIP and EFLAGS and resumes after the instruction, except
; #DB: db_handler logs each debug exception's saved EIP and EFLAGS, DR6 and DR7; 0x40:
; int_handler). Everything runs at ring 0 with interrupts disabled.
;
; Each case prints "PASS debug.<name>" or "FAIL debug.<name> got X want Y (check N)" on
; COM1; then "debug: N passed, M failed", and the run exits through port 0xF4 with the
; failure count. The cases are in cases.inc.
;
; The expected values are those of an i686 (SDM Vol. 3A 17.2-17.3), checked under QEMU 7.2
; (TCG); guests/debug/expected.txt holds the output.

BITS 32
ORG 0x00100000

%include "report.inc"
%include "selfcheck.inc"
%include "descriptors.inc"
%include "macros.inc"

%include "multiboot-aout.inc"

_start:
    FLAT_ENTRY
    push dword EFL_RSVD
    popfd
    call install_idt
    xor eax, eax
    mov dr7, eax
    mov dr6, eax

%include "cases.inc"

    jmp finish

%include "lib.inc"

; ---- data -------------------------------------------------------------------------------
    SELFCHECK_DATA "debug.", "debug: "
ex_mode:        dd EX_NONE
ex_skip:        dd 0
ex_count:       dd 0
ex_vec:         dd 0
ex_err:         dd 0
ex_eip:         dd 0
ex_eflags:      dd 0
insn_eip:       dd 0
db_count:       dd 0
db_keep:        dd 0
db_rf:          dd 0
db_eip:         times DB_LOG dd 0   ; the #DB log: five arrays, in this order
db_efl:         times DB_LOG dd 0
db_hfl:         times DB_LOG dd 0
db_dr6:         times DB_LOG dd 0
db_dr7:         times DB_LOG dd 0
int_count:      dd 0
int_eflags:     dd 0
int_dbs:        dd 0
r0:             dd 0
r1:             dd 0
r2:             dd 0
    align 16
wvar:           dd 0, 0, 0, 0       ; watched data: one 16-byte line
    align 16
before:         dd 0                ; the dword before rwvar: never watched
rwvar:          dd 0
after:          dd 0

FLAT_GDT
TABLE_REGISTERS IDT_VECTORS

    align 4
load_end:

    absolute load_end
    alignb 8
idt:        resb IDT_VECTORS * 8
    alignb 16
            resb 4096
stack_top:
bss_end:
