; paging.asm — wasmvisor's self-checking paging test kernel (32-bit two-level and PAE paging).
;
; Built with `nasm -f bin -I guests/paging/ -I guests/common/ -o paging.bin paging.asm`: a flat
; Multiboot v1 kernel whose header uses the a.out kludge (flag bit 16), loaded at
; 1 MiB like guests/bench (wasmvisor, QEMU -kernel). It is entered in 32-bit
; protected mode with flat segments, loads its own GDT (null, 0x08 flat code,
; 0x10 flat data) and an IDT (32-bit interrupt gates for vectors 0-31; vectors 13
; and 14 go to a handler that records the vector, error code, CR2 and the saved EIP
; and then either resumes after the faulting instruction — saved EIP + a length the
; case recorded before the access — resumes at a given address, or fixes the
; page-table entry and returns to retry the instruction). Every other exception,
; and a #GP or #PF no case armed, is reported as a FAIL and ends the run.
;
; Each case prints "PASS paging.<name>" or "FAIL paging.<name> got X want Y (check N)"
; on COM1; then "paging: N passed, M failed", and the run exits through port 0xF4
; with the failure count. The cases (cases.inc): enabling paging with an identity
; map, 4 KiB translation through an alias, not-present reads and writes (PTE and
; PDE level), CR0.WP=1/0 on read-only pages (PTE and PDE level), accessed and dirty
; bits, 4 MiB pages (CR4.PSE), global pages across a CR3 reload and a CR4.PGE toggle,
; INVLPG, page-crossing reads and writes whose second page is absent, instruction
; fetch from an absent page, and fault-fix-retry for a write and a fetch. Then the
; PAE cases (pae-cases.inc): CPUID.PAE, enabling PAE paging over an identity map
; (PDPT, a directory with a 4 KiB table and a 2 MiB page), 4 KiB aliases, a 2 MiB
; page, not-present PDPTE/PDE/PTE, reserved bits in PDEs and PTEs (#PF with RSVD),
; reserved bits in a PDPTE (#GP(0) at MOV CR3), A/D bits in 64-bit entries, CR0.WP,
; a global 2 MiB page across a CR3 load and INVLPG elsewhere in it, INVLPG, and a
; page-crossing write into an absent page. Every fault check covers the error code,
; CR2 (for #PF) and the saved EIP.
;
; Not covered here:
;   - U/S (user/supervisor) checks and the error code's U bit: they need ring 3,
;     and ring transitions are being implemented in parallel; to be added then.
;   - NX: wasmvisor's CPUID has no NX (no EFER), so bit 63 is only checked as reserved.
;   - A PDPTE change taking effect only at the next PDPTE load: QEMU has no PDPTE
;     registers (it reads the PDPT on every walk), so the kernel could not be checked there
;     (test/paging.test.ts covers it).
;
; Memory (physical, all below 4 MiB and identity-mapped once paging is on):
;   0x00100000  this kernel (code, data, IDT, stack)
;   0x00300000  page directory; 0x00301000 PT0 (identity 0-4 MiB, 4 KiB pages);
;   0x00302000  PT1 (linear 0x00400000-0x007FFFFF, the test pages);
;   0x00303000  PT2 (linear 0x01400000-, under a read-only PDE)
;   0x00310000- page frames the test pages map to (FRAME n = 0x00310000 + n * 4 KiB, n < 16)
;   0x00320000  PAE: PDPT (and a second one at +0x40); 0x00321000 page directory;
;   0x00322000  its table for 0-2 MiB (identity); 0x00323000 the table of the test pages
; Linear 0x00800000-0x00BFFFFF becomes a 4 MiB page onto physical 0 (pse case).
;
; Files: macros.inc (constants, CASE/CHK/FAULT_* macros), lib.inc (runtime, IDT,
; #PF/#GP handler), cases.inc (the 32-bit cases), pae-cases.inc (the PAE cases).
;
; The expected values are those of an i686 (Intel SDM Vol. 3A, chapter 4), as
; checked under QEMU 7.2 (TCG); guests/paging/expected.txt holds the output. Some
; checks cannot be: QEMU's TLB drops global entries on CR3 loads, so its reference
; build, nasm -DQEMU_TLB, accepts either value there (see CHK_KEPT in cases.inc), and
; -DQEMU_PAE relaxes where QEMU's PAE departs from the SDM (no PDPTE check at MOV CR3,
; A set in PDPTEs, no P in a reserved-bit #PF error code: see pae-cases.inc and
; guests/README.md).

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

; PAE section (pae-cases.inc): PDPT, the directory of PDPTE 0, its tables
PDPT        equ 0x00320000          ; PDPTE 0 -> PAE_PD; 1-3 not present
BAD_PDPT    equ 0x00320040          ; a second PDPT, for the reserved-bit #GP case
PAE_PD      equ 0x00321000          ; PDE 0 -> PAE_PT0, PDE 1: 2 MiB identity, PDE 2 -> PAE_PT1
PAE_PT0     equ 0x00322000          ; identity 0-2 MiB, 4 KiB pages
PAE_PT1     equ 0x00323000          ; linear 0x00400000-0x005FFFFF: the test pages LIN(n)
%define PDE64(n)    (PAE_PD + (n) * 8)
%define PTE64(n)    (PAE_PT1 + (n) * 8)

%include "report.inc"
%include "macros.inc"
%include "descriptors.inc"

%include "multiboot-aout.inc"

; ---- entry: 32-bit protected mode, flat segments, no stack --------------------------
_start:
    FLAT_ENTRY
    call install_idt
    call build_tables

%include "cases.inc"
%include "pae-cases.inc"

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

; build_pae_tables: the PAE structures (64-bit entries, A and D clear): PDPTE 0 -> PAE_PD;
; PDE 0 -> PAE_PT0 (identity map of 0-2 MiB), PDE 1 a 2 MiB page onto 2 MiB (identity),
; PDE 2 -> PAE_PT1 (empty); everything else not present.
build_pae_tables:
    pushad
    mov edi, PDPT
    xor eax, eax
    mov ecx, 4 * 1024               ; PDPT page, PAE_PD, PAE_PT0, PAE_PT1
    rep stosd
    mov dword [PDPT], PAE_PD | PG_P
    mov dword [PDE64(0)], PAE_PT0 | PG_P | PG_RW
    mov dword [PDE64(1)], 0x00200000 | PG_PS | PG_P | PG_RW
    mov dword [PDE64(2)], PAE_PT1 | PG_P | PG_RW
    mov edi, PAE_PT0
    mov eax, PG_P | PG_RW
    mov ecx, 512
.identity:
    mov [edi], eax
    add eax, 0x1000
    add edi, 8
    dec ecx
    jnz .identity
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
pf_vec:         dd -1
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
TABLE_REGISTERS 32

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
