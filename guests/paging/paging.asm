; paging.asm — wasmvisor's self-checking paging test kernel (32-bit two-level paging).
;
; Built with `nasm -f bin -I guests/paging/ -I guests/common/ -o paging.bin paging.asm`: a flat
; Multiboot v1 kernel whose header uses the a.out kludge (flag bit 16), loaded at
; 1 MiB like guests/bench (wasmvisor, QEMU -kernel). It is entered in 32-bit
; protected mode with flat segments, loads its own GDT (null, 0x08 flat code,
; 0x10 flat data) and an IDT (32-bit interrupt gates for vectors 0-31; vector 14
; goes to a #PF handler that records the error code, CR2 and the saved EIP and
; then either resumes after the faulting instruction — saved EIP + a length the
; case recorded before the access — resumes at a given address, or fixes the
; page-table entry and returns to retry the instruction). Every other exception
; is reported as a FAIL and ends the run.
;
; Each case prints "PASS paging.<name>" or "FAIL paging.<name> got X want Y (check N)"
; on COM1; then "paging: N passed, M failed", and the run exits through port 0xF4
; with the failure count. The cases (cases.inc): enabling paging with an identity
; map, 4 KiB translation through an alias, not-present reads and writes (PTE and
; PDE level), CR0.WP=1/0 on read-only pages (PTE and PDE level), accessed and dirty
; bits, 4 MiB pages (CR4.PSE), global pages across a CR3 reload and a CR4.PGE toggle,
; INVLPG, page-crossing reads and writes whose second page is absent, instruction
; fetch from an absent page, and fault-fix-retry for a write and a fetch. Every
; fault check covers the error code, CR2 and the saved EIP.
;
; Not covered here:
;   - U/S (user/supervisor) checks and the error code's U bit: they need ring 3,
;     and ring transitions are being implemented in parallel; to be added then.
;   - PAE (and its 2 MiB pages, NX): not implemented by wasmvisor yet.
;
; Memory (physical, all below 4 MiB and identity-mapped once paging is on):
;   0x00100000  this kernel (code, data, IDT, stack)
;   0x00300000  page directory; 0x00301000 PT0 (identity 0-4 MiB, 4 KiB pages);
;   0x00302000  PT1 (linear 0x00400000-0x007FFFFF, the test pages);
;   0x00303000  PT2 (linear 0x01400000-, under a read-only PDE)
;   0x00310000- page frames the test pages map to (FRAME n = 0x00310000 + n * 4 KiB)
; Linear 0x00800000-0x00BFFFFF becomes a 4 MiB page onto physical 0 (pse case).
;
; Files: macros.inc (constants, CASE/CHK/FAULT_* macros), lib.inc (runtime, IDT,
; #PF handler), cases.inc (the cases).
;
; The expected values are those of an i686 (Intel SDM Vol. 3A, chapter 4), as
; checked under QEMU 7.2 (TCG); guests/paging/expected.txt holds the output. One
; check (the global page kept across a CR3 load) cannot be: QEMU's TLB drops global
; entries on CR3 loads, so its reference build, nasm -DQEMU_TLB, accepts either value
; there (see CHK_KEPT in cases.inc and guests/README.md).

BITS 32
ORG 0x00100000


PD          equ 0x00300000
PT0         equ 0x00301000
PT1         equ 0x00302000
PT2         equ 0x00303000
FRAMES      equ 0x00310000
%define FRAME(n)    (FRAMES + (n) * 0x1000)
%define LIN(n)      (0x00400000 + (n) * 0x1000)     ; test page n, mapped by PT1[n]
%define PTE1(n)     (PT1 + (n) * 4)
BIG_LIN     equ 0x00800000          ; PDE 2: the 4 MiB page
RO_PDE_LIN  equ 0x01400000          ; PDE 5: read-only PDE over PT2

%include "report.inc"
%include "macros.inc"

%include "multiboot-aout.inc"

; ---- entry: 32-bit protected mode, flat segments, no stack --------------------------
_start:
    FLAT_ENTRY
    call install_idt
    call build_tables

%include "cases.inc"

    jmp finish

%include "lib.inc"

; build_tables: PD with PDE 0 -> PT0 (identity map of 0-4 MiB) and PDE 1 -> PT1
; (empty); every other PDE and every PT1 entry not present. A and D clear.
build_tables:
    pushad
    mov edi, PD
    xor eax, eax
    mov ecx, 4 * 1024               ; PD, PT0, PT1, PT2
    rep stosd
    mov edi, PT0
    mov eax, PG_P | PG_RW
    mov ecx, 1024
.identity:
    mov [edi], eax
    add eax, 0x1000
    add edi, 4
    dec ecx
    jnz .identity
    mov dword [PD + 0 * 4], PT0 | PG_P | PG_RW
    mov dword [PD + 1 * 4], PT1 | PG_P | PG_RW
    popad
    ret

; code copied into FRAME(7) for the fetch-retry case: mov eax, 0xC0DEC0DE; ret
fetch_code:
    mov eax, 0xC0DEC0DE
    ret
fetch_code_end:

; ---- data -------------------------------------------------------------------------------
    align 4
case_name:      dd 0
case_got:       dd 0
case_want:      dd 0
pass_count:     dd 0
fail_count:     dd 0
pf_mode:        dd PF_NONE
pf_skip:        dd 0
pf_resume:      dd 0
pf_fix_ptr:     dd 0
pf_fix_val:     dd 0
pf_count:       dd 0
pf_err:         dd 0
pf_cr2:         dd 0
pf_eip:         dd 0
insn_eip:       dd 0
marker:         dd 0x1D1D1D1D
case_failed:    db 0
case_checks:    db 0
case_failcheck: db 0

str_prefix:     db "paging.", 0
REPORT_STRINGS "paging: "
str_errcode:    db " error code ", 0

    align 8
gdt:
    dq 0                            ; 0x00 null
    dq 0x00CF9A000000FFFF           ; 0x08 code: base 0, limit 4 GiB, 32-bit, DPL 0
    dq 0x00CF92000000FFFF           ; 0x10 data: base 0, limit 4 GiB, writable
gdt_end:
gdt_desc:
    dw gdt_end - gdt - 1
    dd gdt
idt_desc:
    dw 32 * 8 - 1
    dd idt

    align 4
load_end:

; ---- bss: zeroed by the loader up to bss_end --------------------------------------------
    absolute load_end
    alignb 8
idt:        resb 32 * 8
    alignb 16
            resb 4096
stack_top:
bss_end:
