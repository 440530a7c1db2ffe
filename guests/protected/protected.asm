; protected.asm — wasmvisor's self-checking segmentation and privilege test kernel.
;
; Built with `nasm -f bin -I guests/protected/ -I guests/common/ -o protected.bin protected.asm`: a flat
; Multiboot v1 kernel whose header uses the a.out kludge (flag bit 16), loaded at 1 MiB
; like guests/paging (wasmvisor, QEMU -kernel). It is entered in 32-bit protected mode
; with flat segments and loads its own GDT, IDT and TSS:
;
;   GDT  0x00 null              0x30 conforming code, DPL 0 (flat)
;        0x08 code, DPL 0       0x38 data, not present
;        0x10 data, DPL 0       0x40 expand-down data, base 0x200000, limit 0xFFF, B=0
;        0x18 code, DPL 3       0x48 32-bit call gate, DPL 3 -> 0x08:gate_target, 2 params
;        0x20 data, DPL 3       0x50 32-bit call gate, DPL 0 -> 0x08:gate_target, 2 params
;        0x28 32-bit TSS        0x58 read-only data, DPL 0
;        (all code and data segments flat: base 0, limit 4 GiB, except 0x40)
;   TSS  SS0:ESP0 = 0x10:tss_stack_top; I/O bitmap at offset 104 covering ports
;        0-0x3FF (everything denied except COM1's LSR 0x3FD and scratch 0x3FF), then
;        the 0xFF terminator; the TSS limit ends there, so ports >= 0x408 are beyond it.
;   IDT  0-31: 32-bit interrupt gates, DPL 0, to one handler that records vector, error
;        code, saved EIP and CS, and from ring 3 the saved SS:ESP and where the frame
;        was built; it resumes after the faulting instruction (a length recorded before
;        it) or at a recovery label, or reports an unexpected exception and ends the run.
;        0x40: interrupt gate, DPL 0; 0x80: trap gate, DPL 3 (a "system call" that
;        records its frame and returns ~EAX); 0x81: interrupt gate, DPL 3 (leave ring 3
;        and return to the kernel code that entered it).
;
; Each case prints "PASS prot.<name>" or "FAIL prot.<name> got X want Y (check N)" on
; COM1; then "prot: N passed, M failed", and the run exits through port 0xF4 with the
; failure count. The cases are in cases.inc. Not covered here: task switches and task
; gates, V86 mode, LDTs, 16-bit gates and TSSs.
;
; Memory (physical): kernel at 0x00100000 (code, data, GDT, IDT, TSS, the kernel, TSS
; ring-0 and ring-3 stacks); expand-down segment at 0x00200000; in the paging case,
; page directory at 0x00300000 and a page table at 0x00301000 (identity map of 0-4 MiB,
; user-accessible except SUP_PAGE 0x003F0000; RO_PAGE 0x003F1000 read-only).
;
; Files: macros.inc (constants, CASE/CHK/FAULT_* macros), lib.inc (runtime, IDT and
; handlers, ring-3 entry/exit, call-gate target), cases.inc (the cases).
;
; The expected values are those of an i686 (Intel SDM Vol. 3A, chapters 5 and 6) as
; checked under QEMU 7.2 (TCG); guests/protected/expected.txt holds the output. QEMU's
; TCG does not check segments on data accesses (null selector, limit, writability), so
; its reference build, nasm -DQEMU_SEG, also accepts "no exception" for those faults
; (CHK_EX_SEG in macros.inc; see guests/README.md).

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
    call install_idt
    mov ax, TSS_SEL
    ltr ax
    call reset_user_segs

%include "cases.inc"

    jmp finish

%include "lib.inc"

; ---- data -------------------------------------------------------------------------------
    align 4
case_name:      dd 0
case_got:       dd 0
case_want:      dd 0
pass_count:     dd 0
fail_count:     dd 0
ex_mode:        dd EX_NONE
ex_skip:        dd 0
ex_resume:      dd 0
ex_count:       dd 0
ex_vec:         dd 0
ex_err:         dd 0
ex_eip:         dd 0
ex_cs:          dd 0
ex_esp3:        dd 0
ex_ss3:         dd 0
ex_frame:       dd 0
ex_cr2:         dd 0
esp_seen:       dd 0
insn_eip:       dd 0
k_esp:          dd 0
u_esp:          dd 0
u_ds:           dd 0
u_es:           dd 0
u_fs:           dd 0
u_gs:           dd 0
u_eflags:       dd 0
sc_count:       dd 0
sc_eip:         dd 0
sc_cs:          dd 0
sc_eflags:      dd 0
sc_esp:         dd 0
sc_ss:          dd 0
sc_frame:       dd 0
sc_kcs:         dd 0
sc_kss:         dd 0
cg_count:       dd 0
cg_eip:         dd 0
cg_cs:          dd 0
cg_p0:          dd 0
cg_p1:          dd 0
cg_esp:         dd 0
cg_ss:          dd 0
cg_frame:       dd 0
cg_kcs:         dd 0
cg_kss:         dd 0
conf_cs:        dd 0
conf_ret_cs:    dd 0
r0:             dd 0
r1:             dd 0
r2:             dd 0
r3:             dd 0
r4:             dd 0
r5:             dd 0
case_failed:    db 0
case_checks:    db 0
case_failcheck: db 0

str_prefix:     db "prot.", 0
REPORT_STRINGS "prot: "
str_errcode:    db " error code ", 0

    align 8
gdt:
    dq 0                                                    ; 0x00 null
    dq DESC(0, 0xFFFFF, 0x9A, 0xC)                          ; 0x08 code, DPL 0
    dq DESC(0, 0xFFFFF, 0x92, 0xC)                          ; 0x10 data, DPL 0
    dq DESC(0, 0xFFFFF, 0xFA, 0xC)                          ; 0x18 code, DPL 3
    dq DESC(0, 0xFFFFF, 0xF2, 0xC)                          ; 0x20 data, DPL 3
    dq DESC(ADDR(tss), tss_end - tss - 1, 0x89, 0x0)        ; 0x28 32-bit TSS (available)
    dq DESC(0, 0xFFFFF, 0x9E, 0xC)                          ; 0x30 conforming code, DPL 0
    dq DESC(0, 0xFFFFF, 0x12, 0xC)                          ; 0x38 data, not present
    dq DESC(EXPD_BASE, 0x00FFF, 0x96, 0x0)                  ; 0x40 expand-down data, B=0
    dq GATE(CODE_SEL, ADDR(gate_target), 0xEC, 2)           ; 0x48 call gate, DPL 3
    dq GATE(CODE_SEL, ADDR(gate_target), 0x8C, 2)           ; 0x50 call gate, DPL 0
    dq DESC(0, 0xFFFFF, 0x90, 0xC)                          ; 0x58 read-only data, DPL 0
gdt_end:
%if gdt_end - gdt - 1 != GDT_LIMIT
%error "GDT_LIMIT does not match the GDT"
%endif
TABLE_REGISTERS IDT_VECTORS

; 32-bit TSS: only SS0:ESP0 and the I/O map base are used (no task switches).
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
%if port == (COM1_LSR & ~7)
%assign byte 0xFF & ~((1 << (COM1_LSR & 7)) | (1 << (COM1_SCR & 7)))
%endif
    db byte
%assign port port + 8
%endrep
    db 0xFF                         ; terminator (ports 0x400-0x407)
tss_end:

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
user_stack_top:
bss_end:
