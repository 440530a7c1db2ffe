; v86.asm — wasmvisor's self-checking virtual-8086 mode test kernel.
;
; Built with `nasm -f bin -I guests/v86/ -I guests/common/ -o v86.bin v86.asm`: a flat
; Multiboot v1 kernel whose header uses the a.out kludge (flag bit 16), loaded at 1 MiB
; like guests/protected (wasmvisor, QEMU -kernel). It is entered in 32-bit protected mode
; with flat segments, masks the PICs and loads its own GDT, IDT and TSS:
;
;   GDT  0x00 null               0x18 32-bit TSS of the kernel
;        0x08 code, DPL 0 (flat) 0x20 32-bit TSS of a V86 task (EFLAGS.VM = 1, IOPL 3)
;        0x10 data, DPL 0 (flat) 0x28 code, DPL 3 (flat)
;   TSS  SS0:ESP0 = 0x10:tss_stack_top; I/O bitmap at offset 104 covering ports 0-0x3FF
;        (everything denied except COM1's scratch register 0x3FF), then the terminator.
;   IDT  0-31: 32-bit interrupt gates, DPL 0 (#BP: DPL 3), to the monitor (exc_common),
;        which records the frame; INT3 ends a V86 run and returns to the kernel code that
;        started it. 0x40: DPL 3 gate to a handler that records its frame and returns
;        AX = ~AX; 0x41: DPL 0 gate; 0x42: DPL 3 gate to ring-3 code; 0x50: DPL 3 task
;        gate to the kernel's TSS.
;
; The V86 code is the kernel's own code at 1 MiB, run with CS = 0xFFFF (base 0xFFFF0, so
; it must lie below 0x10FFF0; an assembly-time check enforces it), stack 0x2000:0xFFF0,
; ES/DS/FS/GS = 0x2200/0x2100/0x2300/0x2400. Each V86 block ends with INT3.
;
; Each case prints "PASS v86.<name>" or "FAIL v86.<name> got X want Y (check N)" on COM1;
; then "v86: N passed, M failed", and the run exits through port 0xF4 with the failure
; count. The cases are in cases.inc. CR4.VME is not used (wasmvisor does not offer it).
;
; Memory (physical): kernel, its stacks, GDT, IDT and TSSs at 0x00100000; V86 data and
; stacks at 0x00020000-0x0003FFFF; in the paging case, page directory at 0x00200000 and a
; page table at 0x00201000 (identity map of 0-4 MiB, user and writable, except the absent
; page 0x00040000 and the supervisor-only page 0x00041000).
;
; Files: macros.inc (constants, CASE/CHK/V86 macros), lib.inc (runtime, IDT and the
; monitor, V86 entry), cases.inc (the cases).
;
; The expected values are those of an i686 (Intel SDM Vol. 3A, chapter 20, and the
; INT n/IRET/POPF/PUSHF pages of Vol. 2) as checked under QEMU 7.2 (TCG);
; guests/v86/expected.txt holds the output.

BITS 32
ORG 0x00100000

%include "report.inc"
%include "macros.inc"

%include "descriptors.inc"

%include "multiboot-aout.inc"

; ---- entry: 32-bit protected mode, flat segments, no stack --------------------------
_start:
    FLAT_ENTRY
    push dword EFL_RSVD
    popfd                           ; IOPL 0, IF 0, NT 0
    mov al, 0xFF                    ; mask both PICs: V86 cases set IF
    out 0x21, al
    out 0xA1, al
    call install_idt
    mov ax, TSS_SEL
    ltr ax

%include "cases.inc"

    jmp finish

%include "lib.inc"

%if $ - $$ > 0xFFF0
%error "the V86 code must lie below 0x10FFF0 (CS = 0xFFFF)"
%endif

; ---- data -------------------------------------------------------------------------------
    align 4
case_name:      dd 0
case_got:       dd 0
case_want:      dd 0
pass_count:     dd 0
fail_count:     dd 0
ex_mode:        dd EX_NONE
ex_skip:        dd 0
insn_ip:        dd 0
k_esp:          dd 0
int_count:      dd 0
exc_rec:        times REC_BYTES db 0
exit_rec:       times REC_BYTES db 0
int_rec:        times 9 dd 0        ; EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS
v_regs:                             ; the V86 registers at its INT3, in PUSHAD order
v_edi:          dd 0
v_esi:          dd 0
v_ebp:          dd 0
v_esp:          dd 0
v_ebx:          dd 0
v_edx:          dd 0
v_ecx:          dd 0
v_eax:          dd 0
r0:             dd 0
r1:             dd 0
case_failed:    db 0
case_checks:    db 0
case_failcheck: db 0

str_prefix:     db "v86.", 0
REPORT_STRINGS "v86: "
str_errcode:    db " error code ", 0

    align 8
gdt:
    dq 0                                                    ; 0x00 null
    dq DESC(0, 0xFFFFF, 0x9A, 0xC)                          ; 0x08 code, DPL 0
    dq DESC(0, 0xFFFFF, 0x92, 0xC)                          ; 0x10 data, DPL 0
    dq DESC(ADDR(tss), tss_end - tss - 1, 0x89, 0x0)        ; 0x18 32-bit TSS (available)
    dq DESC(ADDR(vtss), vtss_end - vtss - 1, 0x89, 0x0)     ; 0x20 32-bit TSS of the V86 task
    dq DESC(0, 0xFFFFF, 0xFA, 0xC)                          ; 0x28 code, DPL 3
gdt_end:
%if gdt_end - gdt - 1 != GDT_LIMIT
%error "GDT_LIMIT does not match the GDT"
%endif
TABLE_REGISTERS IDT_VECTORS

; The kernel's 32-bit TSS: SS0:ESP0 for interrupts from V86 mode, the I/O bitmap, and the
; kernel's state while the V86 task of the task-switch case runs.
    align 4
tss:
    dd 0                            ; back link
    dd tss_stack_top                ; ESP0
    dd DATA_SEL                     ; SS0
    times 22 dd 0                   ; ESP1 .. LDT
    dw 0                            ; T
    dw iomap - tss                  ; I/O map base
iomap:
%assign port 0
%rep 0x400 / 8
%assign byte 0xFF
%if port == (COM1_SCR & ~7)
%assign byte 0xFF & ~(1 << (COM1_SCR & 7))
%endif
    db byte
%assign port port + 8
%endrep
    db 0xFF                         ; terminator (ports 0x400-0x407)
tss_end:

; The V86 task: EFLAGS VM | IOPL 3, CS:IP = 0xFFFF:v86_task, its own stack VT_SS:VT_SP and
; ring-0 stack; no I/O bitmap (the map base is the TSS limit + 1).
vtss:
    dd 0                            ; back link
    dd vtss_stack_top               ; ESP0
    dd DATA_SEL                     ; SS0
    times 4 dd 0                    ; ESP1 .. SS2
    dd 0                            ; CR3
    dd V86_IP(v86_task)             ; EIP
    dd EFL_VM | EFL_IOPL3 | EFL_RSVD ; EFLAGS
    dd 0, 0, 0, 0                   ; EAX, ECX, EDX, EBX
    dd VT_SP                        ; ESP
    dd 0, 0, 0                      ; EBP, ESI, EDI
    dd V86_ES, V86_CS, VT_SS, V86_DS, V86_FS, V86_GS
    dd 0                            ; LDT
    dw 0                            ; T
    dw vtss_end - vtss              ; I/O map base: none
vtss_end:

    align 4
load_end:

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
vtss_stack_top:
bss_end:
