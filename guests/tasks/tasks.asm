; tasks.asm — wasmvisor's self-checking hardware task-switching test kernel.
;
; Built with `nasm -f bin -I guests/tasks/ -I guests/common/ -o tasks.bin tasks.asm`: a flat
; Multiboot v1 kernel (a.out kludge) loaded at 1 MiB like guests/protected, entered in
; 32-bit protected mode; it loads its own GDT, IDT and task register:
;
;   GDT  0x00 null                      0x58 TSS C, DS selector 0x1000 (past the limit)
;        0x08 code, DPL 0               0x60 LDT (entry 0: data, base 0x200000)
;        0x10 data, DPL 0               0x68 32-bit call gate, DPL 3 -> gate_target
;        0x18 code, DPL 3               0x70 16-bit TSS (task16_entry)
;        0x20 data, DPL 3               0x78 32-bit TSS F (fault_task)
;        0x28 32-bit TSS: the kernel    0x80 task gate, DPL 3 -> TSS A
;        0x30 32-bit TSS A              0x88 16-bit code, base 0, limit 0xFFFF
;        0x38 32-bit TSS B (has an LDT) 0x90 16-bit data, base 0, limit 0xFFFF
;        0x40 task gate, DPL 0 -> TSS A 0x98 32-bit code, base 1 MiB (16-bit task's IPs)
;        0x48 TSS C with limit 0x66     0xA0 16-bit stack (B=0), base STACK16
;        0x50 TSS C, not present
;   IDT  0-31: 32-bit interrupt gates to one handler that records vector, error code,
;        saved EIP and CS and the task it ran in; cases replace 0 (#DE) and 8 (#DF) with
;        task gates to TSS F. 0x50: task gate to TSS A. 0x80: trap gate, DPL 3 (system
;        call). 0x81: interrupt gate, DPL 3 (leave ring 3).
;
; Each case prints "PASS tasks.<name>" or "FAIL tasks.<name> got X want Y (check N)" on
; COM1; then "tasks: N passed, M failed", and the run exits through port 0xF4 with the
; failure count. The cases are in cases.inc, the grand tour (real mode and back, paging,
; ring 3, interrupt and call gate, a task switch from ring 3) in tour.inc.
;
; Memory (physical): kernel, its data, stacks and TSSs at 1 MiB; the LDT's data segment
; at 0x200000; the 16-bit task's stack at STACK16; page tables from 0x300000; the probe
; pages at 0x400000 / 0x401000; the real-mode trampoline at 0x7000.
;
; The expected values are those of an i686 (Intel SDM Vol. 3A, chapter 7), checked under
; QEMU 7.2 (TCG); guests/tasks/expected.txt holds the output.

BITS 32
ORG 0x00100000

%include "report.inc"
%include "selfcheck.inc"
%include "macros.inc"

%include "descriptors.inc"

STACK16     equ 0x00210000          ; the 16-bit task's stack segment (64 KiB)

%include "multiboot-aout.inc"

; ---- entry: 32-bit protected mode, flat segments, no stack --------------------------
_start:
    FLAT_ENTRY
    push dword EFL_RSVD
    popfd                           ; IOPL 0, IF 0, NT 0
    call install_idt
    mov ax, MAIN_SEL
    ltr ax

%include "cases.inc"
%include "tour.inc"

    jmp finish

%include "lib.inc"

; ---- data -------------------------------------------------------------------------------
    align 4
ex_mode:        dd EX_NONE
ex_skip:        dd 0
ex_resume:      dd 0
ex_count:       dd 0
ex_vec:         dd 0
ex_err:         dd 0
ex_eip:         dd 0
ex_cs:          dd 0
ex_tr:          dd 0
insn_eip:       dd 0
k_esp:          dd 0
sc_count:       dd 0
sc_cs:          dd 0
sc_kcs:         dd 0
cg_count:       dd 0
cg_cs:          dd 0
cg_kcs:         dd 0
task_body:      dd 0
task_exit:      dd EXIT_IRET
task_probe:     dd 0
fault_skip:     dd 0
t_count:        dd 0
t_eax:          dd 0
t_ebx:          dd 0
t_ecx:          dd 0
t_edx:          dd 0
t_esi:          dd 0
t_edi:          dd 0
t_ebp:          dd 0
t_esp:          dd 0
t_ds:           dd 0
t_es:           dd 0
t_fs:           dd 0
t_gs:           dd 0
t_ss:           dd 0
t_cs:           dd 0
t_eflags:       dd 0
t_tr:           dd 0
t_ldtr:         dd 0
t_cr0:          dd 0
t_cr3:          dd 0
t_probe:        dd 0
ft_count:       dd 0
ft_esp:         dd 0
ft_top:         dd 0
ft_eflags:      dd 0
ft_tr:          dd 0
ft_link:        dd 0
ft_eip:         dd 0
r0:             dd 0
r1:             dd 0
r2:             dd 0
r3:             dd 0
r4:             dd 0
r5:             dd 0
r6:             dd 0
r7:             dd 0
    SELFCHECK_DATA "tasks.", "tasks: "

    align 8
gdt:
    dq 0                                                    ; 0x00 null
    dq DESC(0, 0xFFFFF, 0x9A, 0xC)                          ; 0x08 code, DPL 0
    dq DESC(0, 0xFFFFF, 0x92, 0xC)                          ; 0x10 data, DPL 0
    dq DESC(0, 0xFFFFF, 0xFA, 0xC)                          ; 0x18 code, DPL 3
    dq DESC(0, 0xFFFFF, 0xF2, 0xC)                          ; 0x20 data, DPL 3
    dq DESC(ADDR(tss_main), TSS32_SIZE - 1, 0x89, 0x0)      ; 0x28 the kernel's TSS
    dq DESC(ADDR(tss_a), TSS32_SIZE - 1, 0x89, 0x0)         ; 0x30 TSS A
    dq DESC(ADDR(tss_b), TSS32_SIZE - 1, 0x89, 0x0)         ; 0x38 TSS B
    dq GATE(TSSA_SEL, 0, 0x85, 0)                           ; 0x40 task gate -> A, DPL 0
    dq DESC(ADDR(tss_c), TSS32_SIZE - 2, 0x89, 0x0)         ; 0x48 TSS C, limit 0x66
    dq DESC(ADDR(tss_c), TSS32_SIZE - 1, 0x09, 0x0)         ; 0x50 TSS C, not present
    dq DESC(ADDR(tss_c), TSS32_SIZE - 1, 0x89, 0x0)         ; 0x58 TSS C
    dq DESC(ADDR(ldt), ldt_end - ldt - 1, 0x82, 0x0)        ; 0x60 LDT
    dq GATE(CODE_SEL, ADDR(gate_target), 0xEC, 0)           ; 0x68 call gate, DPL 3
    dq DESC(ADDR(tss16), TSS16_SIZE - 1, 0x81, 0x0)         ; 0x70 16-bit TSS
    dq DESC(ADDR(tss_f), TSS32_SIZE - 1, 0x89, 0x0)         ; 0x78 TSS F
    dq GATE(TSSA_SEL, 0, 0xE5, 0)                           ; 0x80 task gate -> A, DPL 3
    dq DESC(0, 0xFFFF, 0x9A, 0x0)                           ; 0x88 16-bit code
    dq DESC(0, 0xFFFF, 0x92, 0x0)                           ; 0x90 16-bit data
    dq DESC(KERNEL_BASE, 0xFFFFF, 0x9A, 0xC)                ; 0x98 code based at the kernel
    dq DESC(STACK16, 0xFFFF, 0x92, 0x0)                     ; 0xA0 16-bit stack
gdt_end:
%if gdt_end - gdt - 1 != GDT_LIMIT
%error "GDT_LIMIT does not match the GDT"
%endif
TABLE_REGISTERS IDT_VECTORS

ldt:
    dq DESC(LDT_DATA, 0xFFFF, 0x92, 0x0)                    ; 0x04: data, DPL 0
ldt_end:

; The kernel's own task: SS0:ESP0 for interrupts from ring 3; the rest is written by
; the switches away from it.
    align 4
tss_main:
    dd 0                            ; back link
    dd tss_stack_top                ; ESP0
    dd DATA_SEL                     ; SS0
    times 22 dd 0                   ; ESP1 .. LDT
    dw 0                            ; T
    dw TSS32_SIZE                   ; I/O map base: none
tss_a:      times TSS32_SIZE db 0
tss_b:      times TSS32_SIZE db 0
tss_c:      times TSS32_SIZE db 0
tss_f:      times TSS32_SIZE db 0
tss16:      times TSS16_SIZE db 0

    align 4
load_end:
%if load_end - $$ > 0x10000
%error "the 16-bit task's IPs must reach task16_entry"
%endif

; ---- bss: zeroed by the loader up to bss_end --------------------------------------------
    absolute load_end
    alignb 8
idt:        resb IDT_VECTORS * 8
    alignb 16
            resb 4096
stack_top:
            resb 4096
tss_stack_top:
            resb 4096
user_stack_top:
            resb 4096
task_stack_top:
            resb 4096
fault_stack_top:
bss_end:
