/**
 * The opcode table: the single source of truth for decoding, disassembly, interpreter dispatch
 * and (later) the JIT's block analysis. One line per opcode, in Intel SDM operand notation.
 *
 *   OPCODE [/r] MNEMONIC[|MNEMONIC32] OPERANDS [; ATTRIBUTES]
 *
 * OPCODE is one byte, or `0F xx` for the two-byte map; `+r` repeats the line for the eight
 * registers encoded in the low bits (operand `Z`), `+cc` for the sixteen conditions.
 * `/n` selects a group member by the ModRM reg field. `A|B` names the 16- and 32-bit
 * operand-size forms. Operands: E (ModRM r/m), G (ModRM reg), M (memory only), R (register
 * only), I (immediate), J (relative target), O (absolute offset), A (far pointer), S (segment
 * register from reg), C/D (control/debug register), X/Y (DS:eSI / ES:eDI), Z (register from
 * opcode), and fixed registers. Sizes: b byte, w word, d dword, v word/dword by operand size,
 * z immediate of word/dword, p far pointer, q qword, s pseudo-descriptor, a BOUND pair.
 *
 * Attributes: lock (LOCK allowed with a memory destination), end (ends a basic block), priv
 * (CPL 0 only), iopl (needs CPL <= IOPL outside V86 rules), sens (sensitive: run at CPL 1
 * instead of 0 it would reveal or change privileged state without trapping, so the
 * deprivileging monitor hooks it; CLI, STI and RDTSC with CR4.TSD fault at CPL 1 and are
 * emulated from the #GP instead), pm (protected mode only; #UD in
 * real and V86 mode), rep (string instruction honouring REP prefixes), mem (ModRM must name
 * memory), f=READ/WRITTEN flags with o s z a p c d i t, `cc` for the condition's flags,
 * u=UNDEFINED flags.
 */
export const OPCODE_TABLE = `
00 ADD Eb,Gb ; lock f=/oszapc
01 ADD Ev,Gv ; lock f=/oszapc
02 ADD Gb,Eb ; f=/oszapc
03 ADD Gv,Ev ; f=/oszapc
04 ADD AL,Ib ; f=/oszapc
05 ADD eAX,Iz ; f=/oszapc
06 PUSH ES
07 POP ES
08 OR Eb,Gb ; lock f=/oszapc u=a
09 OR Ev,Gv ; lock f=/oszapc u=a
0A OR Gb,Eb ; f=/oszapc u=a
0B OR Gv,Ev ; f=/oszapc u=a
0C OR AL,Ib ; f=/oszapc u=a
0D OR eAX,Iz ; f=/oszapc u=a
0E PUSH CS ; sens
10 ADC Eb,Gb ; lock f=c/oszapc
11 ADC Ev,Gv ; lock f=c/oszapc
12 ADC Gb,Eb ; f=c/oszapc
13 ADC Gv,Ev ; f=c/oszapc
14 ADC AL,Ib ; f=c/oszapc
15 ADC eAX,Iz ; f=c/oszapc
16 PUSH SS ; sens
17 POP SS
18 SBB Eb,Gb ; lock f=c/oszapc
19 SBB Ev,Gv ; lock f=c/oszapc
1A SBB Gb,Eb ; f=c/oszapc
1B SBB Gv,Ev ; f=c/oszapc
1C SBB AL,Ib ; f=c/oszapc
1D SBB eAX,Iz ; f=c/oszapc
1E PUSH DS
1F POP DS
20 AND Eb,Gb ; lock f=/oszapc u=a
21 AND Ev,Gv ; lock f=/oszapc u=a
22 AND Gb,Eb ; f=/oszapc u=a
23 AND Gv,Ev ; f=/oszapc u=a
24 AND AL,Ib ; f=/oszapc u=a
25 AND eAX,Iz ; f=/oszapc u=a
27 DAA ; f=ac/oszapc u=o
28 SUB Eb,Gb ; lock f=/oszapc
29 SUB Ev,Gv ; lock f=/oszapc
2A SUB Gb,Eb ; f=/oszapc
2B SUB Gv,Ev ; f=/oszapc
2C SUB AL,Ib ; f=/oszapc
2D SUB eAX,Iz ; f=/oszapc
2F DAS ; f=ac/oszapc u=o
30 XOR Eb,Gb ; lock f=/oszapc u=a
31 XOR Ev,Gv ; lock f=/oszapc u=a
32 XOR Gb,Eb ; f=/oszapc u=a
33 XOR Gv,Ev ; f=/oszapc u=a
34 XOR AL,Ib ; f=/oszapc u=a
35 XOR eAX,Iz ; f=/oszapc u=a
37 AAA ; f=a/oszapc u=oszp
38 CMP Eb,Gb ; f=/oszapc
39 CMP Ev,Gv ; f=/oszapc
3A CMP Gb,Eb ; f=/oszapc
3B CMP Gv,Ev ; f=/oszapc
3C CMP AL,Ib ; f=/oszapc
3D CMP eAX,Iz ; f=/oszapc
3F AAS ; f=a/oszapc u=oszp
40+r INC Zv ; f=/oszap
48+r DEC Zv ; f=/oszap
50+r PUSH Zv
58+r POP Zv
60 PUSHA|PUSHAD
61 POPA|POPAD
62 BOUND Gv,Ma ; mem
63 ARPL Ew,Gw ; pm f=/z
68 PUSH Iz
69 IMUL Gv,Ev,Iz ; f=/oszapc u=szap
6A PUSH Ib
6B IMUL Gv,Ev,Ib ; f=/oszapc u=szap
6C INSB Yb,DX ; rep iopl f=d/
6D INSW|INSD Yz,DX ; rep iopl f=d/
6E OUTSB DX,Xb ; rep iopl f=d/
6F OUTSW|OUTSD DX,Xz ; rep iopl f=d/
70+cc Jcc Jb ; end f=cc/
80 /0 ADD Eb,Ib ; lock f=/oszapc
80 /1 OR Eb,Ib ; lock f=/oszapc u=a
80 /2 ADC Eb,Ib ; lock f=c/oszapc
80 /3 SBB Eb,Ib ; lock f=c/oszapc
80 /4 AND Eb,Ib ; lock f=/oszapc u=a
80 /5 SUB Eb,Ib ; lock f=/oszapc
80 /6 XOR Eb,Ib ; lock f=/oszapc u=a
80 /7 CMP Eb,Ib ; f=/oszapc
81 /0 ADD Ev,Iz ; lock f=/oszapc
81 /1 OR Ev,Iz ; lock f=/oszapc u=a
81 /2 ADC Ev,Iz ; lock f=c/oszapc
81 /3 SBB Ev,Iz ; lock f=c/oszapc
81 /4 AND Ev,Iz ; lock f=/oszapc u=a
81 /5 SUB Ev,Iz ; lock f=/oszapc
81 /6 XOR Ev,Iz ; lock f=/oszapc u=a
81 /7 CMP Ev,Iz ; f=/oszapc
82 /0 ADD Eb,Ib ; lock f=/oszapc
82 /1 OR Eb,Ib ; lock f=/oszapc u=a
82 /2 ADC Eb,Ib ; lock f=c/oszapc
82 /3 SBB Eb,Ib ; lock f=c/oszapc
82 /4 AND Eb,Ib ; lock f=/oszapc u=a
82 /5 SUB Eb,Ib ; lock f=/oszapc
82 /6 XOR Eb,Ib ; lock f=/oszapc u=a
82 /7 CMP Eb,Ib ; f=/oszapc
83 /0 ADD Ev,Ib ; lock f=/oszapc
83 /1 OR Ev,Ib ; lock f=/oszapc u=a
83 /2 ADC Ev,Ib ; lock f=c/oszapc
83 /3 SBB Ev,Ib ; lock f=c/oszapc
83 /4 AND Ev,Ib ; lock f=/oszapc u=a
83 /5 SUB Ev,Ib ; lock f=/oszapc
83 /6 XOR Ev,Ib ; lock f=/oszapc u=a
83 /7 CMP Ev,Ib ; f=/oszapc
84 TEST Eb,Gb ; f=/oszapc u=a
85 TEST Ev,Gv ; f=/oszapc u=a
86 XCHG Eb,Gb ; lock
87 XCHG Ev,Gv ; lock
88 MOV Eb,Gb
89 MOV Ev,Gv
8A MOV Gb,Eb
8B MOV Gv,Ev
8C MOV Ew,Sw ; sens
8D LEA Gv,M ; mem
8E MOV Sw,Ew
8F /0 POP Ev
90+r XCHG Zv,eAX
98 CBW|CWDE
99 CWD|CDQ
9A CALL Ap ; end sens
9B WAIT
9C PUSHF|PUSHFD ; sens f=oszapcdit/
9D POPF|POPFD ; sens f=/oszapcdit
9E SAHF ; f=/szapc
9F LAHF ; f=szapc/
A0 MOV AL,Ob
A1 MOV eAX,Ov
A2 MOV Ob,AL
A3 MOV Ov,eAX
A4 MOVSB Yb,Xb ; rep f=d/
A5 MOVSW|MOVSD Yv,Xv ; rep f=d/
A6 CMPSB Xb,Yb ; rep f=d/oszapc
A7 CMPSW|CMPSD Xv,Yv ; rep f=d/oszapc
A8 TEST AL,Ib ; f=/oszapc u=a
A9 TEST eAX,Iz ; f=/oszapc u=a
AA STOSB Yb,AL ; rep f=d/
AB STOSW|STOSD Yv,eAX ; rep f=d/
AC LODSB AL,Xb ; rep f=d/
AD LODSW|LODSD eAX,Xv ; rep f=d/
AE SCASB AL,Yb ; rep f=d/oszapc
AF SCASW|SCASD eAX,Yv ; rep f=d/oszapc
B0+r MOV Zb,Ib
B8+r MOV Zv,Iv
C0 /0 ROL Eb,Ib ; f=/oc u=o
C0 /1 ROR Eb,Ib ; f=/oc u=o
C0 /2 RCL Eb,Ib ; f=c/oc u=o
C0 /3 RCR Eb,Ib ; f=c/oc u=o
C0 /4 SHL Eb,Ib ; f=/oszapc u=oa
C0 /5 SHR Eb,Ib ; f=/oszapc u=oa
C0 /6 SAL Eb,Ib ; f=/oszapc u=oa
C0 /7 SAR Eb,Ib ; f=/oszapc u=oa
C1 /0 ROL Ev,Ib ; f=/oc u=o
C1 /1 ROR Ev,Ib ; f=/oc u=o
C1 /2 RCL Ev,Ib ; f=c/oc u=o
C1 /3 RCR Ev,Ib ; f=c/oc u=o
C1 /4 SHL Ev,Ib ; f=/oszapc u=oa
C1 /5 SHR Ev,Ib ; f=/oszapc u=oa
C1 /6 SAL Ev,Ib ; f=/oszapc u=oa
C1 /7 SAR Ev,Ib ; f=/oszapc u=oa
C2 RET Iw ; end
C3 RET ; end
C4 LES Gz,Mp ; mem
C5 LDS Gz,Mp ; mem
C6 /0 MOV Eb,Ib
C7 /0 MOV Ev,Iz
C8 ENTER Iw,Ib
C9 LEAVE
CA RETF Iw ; end sens
CB RETF ; end sens
CC INT3 ; end sens
CD INT Ib ; end sens
CE INTO ; end sens f=o/
CF IRET|IRETD ; end sens f=/oszapcdit
D0 /0 ROL Eb,1 ; f=/oc
D0 /1 ROR Eb,1 ; f=/oc
D0 /2 RCL Eb,1 ; f=c/oc
D0 /3 RCR Eb,1 ; f=c/oc
D0 /4 SHL Eb,1 ; f=/oszapc u=a
D0 /5 SHR Eb,1 ; f=/oszapc u=a
D0 /6 SAL Eb,1 ; f=/oszapc u=a
D0 /7 SAR Eb,1 ; f=/oszapc u=a
D1 /0 ROL Ev,1 ; f=/oc
D1 /1 ROR Ev,1 ; f=/oc
D1 /2 RCL Ev,1 ; f=c/oc
D1 /3 RCR Ev,1 ; f=c/oc
D1 /4 SHL Ev,1 ; f=/oszapc u=a
D1 /5 SHR Ev,1 ; f=/oszapc u=a
D1 /6 SAL Ev,1 ; f=/oszapc u=a
D1 /7 SAR Ev,1 ; f=/oszapc u=a
D2 /0 ROL Eb,CL ; f=/oc u=o
D2 /1 ROR Eb,CL ; f=/oc u=o
D2 /2 RCL Eb,CL ; f=c/oc u=o
D2 /3 RCR Eb,CL ; f=c/oc u=o
D2 /4 SHL Eb,CL ; f=/oszapc u=oa
D2 /5 SHR Eb,CL ; f=/oszapc u=oa
D2 /6 SAL Eb,CL ; f=/oszapc u=oa
D2 /7 SAR Eb,CL ; f=/oszapc u=oa
D3 /0 ROL Ev,CL ; f=/oc u=o
D3 /1 ROR Ev,CL ; f=/oc u=o
D3 /2 RCL Ev,CL ; f=c/oc u=o
D3 /3 RCR Ev,CL ; f=c/oc u=o
D3 /4 SHL Ev,CL ; f=/oszapc u=oa
D3 /5 SHR Ev,CL ; f=/oszapc u=oa
D3 /6 SAL Ev,CL ; f=/oszapc u=oa
D3 /7 SAR Ev,CL ; f=/oszapc u=oa
D4 AAM Ib ; f=/oszapc u=oac
D5 AAD Ib ; f=/oszapc u=oac
D6 SALC ; f=c/
D7 XLAT
D8 ESC Ex
D9 ESC Ex
DA ESC Ex
DB ESC Ex
DC ESC Ex
DD ESC Ex
DE ESC Ex
DF ESC Ex
E0 LOOPNE Jb ; end f=z/
E1 LOOPE Jb ; end f=z/
E2 LOOP Jb ; end
E3 JCXZ Jb ; end
E4 IN AL,Ib ; iopl
E5 IN eAX,Ib ; iopl
E6 OUT Ib,AL ; iopl
E7 OUT Ib,eAX ; iopl
E8 CALL Jz ; end
E9 JMP Jz ; end
EA JMP Ap ; end sens
EB JMP Jb ; end
EC IN AL,DX ; iopl
ED IN eAX,DX ; iopl
EE OUT DX,AL ; iopl
EF OUT DX,eAX ; iopl
F1 INT1 ; end
F4 HLT ; end priv
F5 CMC ; f=c/c
F6 /0 TEST Eb,Ib ; f=/oszapc u=a
F6 /1 TEST Eb,Ib ; f=/oszapc u=a
F6 /2 NOT Eb ; lock
F6 /3 NEG Eb ; lock f=/oszapc
F6 /4 MUL Eb ; f=/oszapc u=szap
F6 /5 IMUL Eb ; f=/oszapc u=szap
F6 /6 DIV Eb ; f=/oszapc u=oszapc
F6 /7 IDIV Eb ; f=/oszapc u=oszapc
F7 /0 TEST Ev,Iz ; f=/oszapc u=a
F7 /1 TEST Ev,Iz ; f=/oszapc u=a
F7 /2 NOT Ev ; lock
F7 /3 NEG Ev ; lock f=/oszapc
F7 /4 MUL Ev ; f=/oszapc u=szap
F7 /5 IMUL Ev ; f=/oszapc u=szap
F7 /6 DIV Ev ; f=/oszapc u=oszapc
F7 /7 IDIV Ev ; f=/oszapc u=oszapc
F8 CLC ; f=/c
F9 STC ; f=/c
FA CLI ; iopl f=/i
FB STI ; iopl f=/i
FC CLD ; f=/d
FD STD ; f=/d
FE /0 INC Eb ; lock f=/oszap
FE /1 DEC Eb ; lock f=/oszap
FF /0 INC Ev ; lock f=/oszap
FF /1 DEC Ev ; lock f=/oszap
FF /2 CALL Ev ; end
FF /3 CALLF Mp ; end sens mem
FF /4 JMP Ev ; end
FF /5 JMPF Mp ; end sens mem
FF /6 PUSH Ev
0F 00 /0 SLDT Ew ; pm sens
0F 00 /1 STR Ew ; pm sens
0F 00 /2 LLDT Ew ; pm priv
0F 00 /3 LTR Ew ; pm priv
0F 00 /4 VERR Ew ; pm sens f=/z
0F 00 /5 VERW Ew ; pm sens f=/z
0F 01 /0 SGDT Ms ; sens mem
0F 01 /1 SIDT Ms ; sens mem
0F 01 /2 LGDT Ms ; priv mem
0F 01 /3 LIDT Ms ; priv mem
0F 01 /4 SMSW Ew ; sens
0F 01 /6 LMSW Ew ; priv end
0F 01 /7 INVLPG Mb ; priv mem
0F 02 LAR Gv,Ew ; pm sens f=/z
0F 03 LSL Gv,Ew ; pm sens f=/z
0F 06 CLTS ; priv
0F 08 INVD ; priv
0F 09 WBINVD ; priv
0F 0B UD2 ; end
0F 18+r NOP Ev
0F 20 MOV Rd,Cd ; priv
0F 21 MOV Rd,Dd ; priv
0F 22 MOV Cd,Rd ; priv end
0F 23 MOV Dd,Rd ; priv
0F 30 WRMSR ; priv
0F 31 RDTSC
0F 32 RDMSR ; priv
0F 34 SYSENTER ; end sens
0F 35 SYSEXIT ; end priv
0F 40+cc CMOVcc Gv,Ev ; f=cc/
0F 80+cc Jcc Jz ; end f=cc/
0F 90+cc SETcc Eb ; f=cc/
0F A0 PUSH FS
0F A1 POP FS
0F A2 CPUID
0F A3 BT Ev,Gv ; f=/c u=oszap
0F A4 SHLD Ev,Gv,Ib ; f=/oszapc u=oa
0F A5 SHLD Ev,Gv,CL ; f=/oszapc u=oa
0F A8 PUSH GS
0F A9 POP GS
0F AB BTS Ev,Gv ; lock f=/c u=oszap
0F AC SHRD Ev,Gv,Ib ; f=/oszapc u=oa
0F AD SHRD Ev,Gv,CL ; f=/oszapc u=oa
0F AE /0 FXSAVE M ; mem
0F AE /1 FXRSTOR M ; mem
0F AF IMUL Gv,Ev ; f=/oszapc u=szap
0F B0 CMPXCHG Eb,Gb ; lock f=/oszapc
0F B1 CMPXCHG Ev,Gv ; lock f=/oszapc
0F B2 LSS Gz,Mp ; mem
0F B3 BTR Ev,Gv ; lock f=/c u=oszap
0F B4 LFS Gz,Mp ; mem
0F B5 LGS Gz,Mp ; mem
0F B6 MOVZX Gv,Eb
0F B7 MOVZX Gv,Ew
0F B9 UD1 Gv,Ev ; end
0F BA /4 BT Ev,Ib ; f=/c u=oszap
0F BA /5 BTS Ev,Ib ; lock f=/c u=oszap
0F BA /6 BTR Ev,Ib ; lock f=/c u=oszap
0F BA /7 BTC Ev,Ib ; lock f=/c u=oszap
0F BB BTC Ev,Gv ; lock f=/c u=oszap
0F BC BSF Gv,Ev ; f=/oszapc u=osapc
0F BD BSR Gv,Ev ; f=/oszapc u=osapc
0F BE MOVSX Gv,Eb
0F BF MOVSX Gv,Ew
0F C0 XADD Eb,Gb ; lock f=/oszapc
0F C1 XADD Ev,Gv ; lock f=/oszapc
0F C7 /1 CMPXCHG8B Mq ; lock mem f=/z
0F C8+r BSWAP Zd
0F FF UD0 ; end
`;
