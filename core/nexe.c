/*
 * Execution summary: X-Nexe-* header parsing and the prettytable-style
 * table (DESIGN.md section 7).
 *
 * The parse reproduces the original zpm's _get_exec_table_data: the
 * node, status and retcode lists are split on ',' and kept verbatim; the
 * cdr line is split on ',' and each item stripped; its first item is the
 * total time, then each node takes a node-time item and a stats item of
 * ten whitespace-separated numbers. Rows stop at the shortest list.
 *
 * The table reproduces prettytable 3 (Debian's python3-prettytable) with
 * default options, including its wcwidth-based column widths, so names in
 * CJK scripts or with combining marks line up as they did. Both walks
 * work on pointers into the header values: memory use does not grow with
 * the number of nodes.
 */
#include "zpm/nexe.h"

#include <string.h>

const char *const zpm_nexe_column_names[ZPM_NEXE_COLUMNS] = {
  "Node", "Status", "Retcode", "NodeT", "SysT", "UserT", "DiskReads",
  "DiskBytesR", "DiskWrites", "DiskBytesW", "NetworkReads",
  "NetworkBytesR", "NetworkWrites", "NetworkBytesW"
};

static const char *const header_names[4] = {
  "X-Nexe-System", "X-Nexe-Status", "X-Nexe-Retcode", "X-Nexe-Cdr-Line"
};

enum { LIST_SYSTEM, LIST_STATUS, LIST_RETCODE, LIST_CDR };

/* --- character widths ---------------------------------------------------- */

struct width_range {
  unsigned long first;
  unsigned long last;
};

/*
 * Generated from the wcwidth 0.2.5 tables prettytable uses (Unicode
 * 15.0.0): ZERO_WIDTH merged with ZERO_WIDTH_CF, and WIDE_EASTASIAN.
 */
static const struct width_range zero_width[] = {
  { 0x00000, 0x00000 }, { 0x00300, 0x0036f }, { 0x00483, 0x00489 },
  { 0x00591, 0x005bd }, { 0x005bf, 0x005bf }, { 0x005c1, 0x005c2 },
  { 0x005c4, 0x005c5 }, { 0x005c7, 0x005c7 }, { 0x00610, 0x0061a },
  { 0x0064b, 0x0065f }, { 0x00670, 0x00670 }, { 0x006d6, 0x006dc },
  { 0x006df, 0x006e4 }, { 0x006e7, 0x006e8 }, { 0x006ea, 0x006ed },
  { 0x00711, 0x00711 }, { 0x00730, 0x0074a }, { 0x007a6, 0x007b0 },
  { 0x007eb, 0x007f3 }, { 0x007fd, 0x007fd }, { 0x00816, 0x00819 },
  { 0x0081b, 0x00823 }, { 0x00825, 0x00827 }, { 0x00829, 0x0082d },
  { 0x00859, 0x0085b }, { 0x00898, 0x0089f }, { 0x008ca, 0x008e1 },
  { 0x008e3, 0x00902 }, { 0x0093a, 0x0093a }, { 0x0093c, 0x0093c },
  { 0x00941, 0x00948 }, { 0x0094d, 0x0094d }, { 0x00951, 0x00957 },
  { 0x00962, 0x00963 }, { 0x00981, 0x00981 }, { 0x009bc, 0x009bc },
  { 0x009c1, 0x009c4 }, { 0x009cd, 0x009cd }, { 0x009e2, 0x009e3 },
  { 0x009fe, 0x009fe }, { 0x00a01, 0x00a02 }, { 0x00a3c, 0x00a3c },
  { 0x00a41, 0x00a42 }, { 0x00a47, 0x00a48 }, { 0x00a4b, 0x00a4d },
  { 0x00a51, 0x00a51 }, { 0x00a70, 0x00a71 }, { 0x00a75, 0x00a75 },
  { 0x00a81, 0x00a82 }, { 0x00abc, 0x00abc }, { 0x00ac1, 0x00ac5 },
  { 0x00ac7, 0x00ac8 }, { 0x00acd, 0x00acd }, { 0x00ae2, 0x00ae3 },
  { 0x00afa, 0x00aff }, { 0x00b01, 0x00b01 }, { 0x00b3c, 0x00b3c },
  { 0x00b3f, 0x00b3f }, { 0x00b41, 0x00b44 }, { 0x00b4d, 0x00b4d },
  { 0x00b55, 0x00b56 }, { 0x00b62, 0x00b63 }, { 0x00b82, 0x00b82 },
  { 0x00bc0, 0x00bc0 }, { 0x00bcd, 0x00bcd }, { 0x00c00, 0x00c00 },
  { 0x00c04, 0x00c04 }, { 0x00c3c, 0x00c3c }, { 0x00c3e, 0x00c40 },
  { 0x00c46, 0x00c48 }, { 0x00c4a, 0x00c4d }, { 0x00c55, 0x00c56 },
  { 0x00c62, 0x00c63 }, { 0x00c81, 0x00c81 }, { 0x00cbc, 0x00cbc },
  { 0x00cbf, 0x00cbf }, { 0x00cc6, 0x00cc6 }, { 0x00ccc, 0x00ccd },
  { 0x00ce2, 0x00ce3 }, { 0x00d00, 0x00d01 }, { 0x00d3b, 0x00d3c },
  { 0x00d41, 0x00d44 }, { 0x00d4d, 0x00d4d }, { 0x00d62, 0x00d63 },
  { 0x00d81, 0x00d81 }, { 0x00dca, 0x00dca }, { 0x00dd2, 0x00dd4 },
  { 0x00dd6, 0x00dd6 }, { 0x00e31, 0x00e31 }, { 0x00e34, 0x00e3a },
  { 0x00e47, 0x00e4e }, { 0x00eb1, 0x00eb1 }, { 0x00eb4, 0x00ebc },
  { 0x00ec8, 0x00ece }, { 0x00f18, 0x00f19 }, { 0x00f35, 0x00f35 },
  { 0x00f37, 0x00f37 }, { 0x00f39, 0x00f39 }, { 0x00f71, 0x00f7e },
  { 0x00f80, 0x00f84 }, { 0x00f86, 0x00f87 }, { 0x00f8d, 0x00f97 },
  { 0x00f99, 0x00fbc }, { 0x00fc6, 0x00fc6 }, { 0x0102d, 0x01030 },
  { 0x01032, 0x01037 }, { 0x01039, 0x0103a }, { 0x0103d, 0x0103e },
  { 0x01058, 0x01059 }, { 0x0105e, 0x01060 }, { 0x01071, 0x01074 },
  { 0x01082, 0x01082 }, { 0x01085, 0x01086 }, { 0x0108d, 0x0108d },
  { 0x0109d, 0x0109d }, { 0x0135d, 0x0135f }, { 0x01712, 0x01714 },
  { 0x01732, 0x01733 }, { 0x01752, 0x01753 }, { 0x01772, 0x01773 },
  { 0x017b4, 0x017b5 }, { 0x017b7, 0x017bd }, { 0x017c6, 0x017c6 },
  { 0x017c9, 0x017d3 }, { 0x017dd, 0x017dd }, { 0x0180b, 0x0180d },
  { 0x0180f, 0x0180f }, { 0x01885, 0x01886 }, { 0x018a9, 0x018a9 },
  { 0x01920, 0x01922 }, { 0x01927, 0x01928 }, { 0x01932, 0x01932 },
  { 0x01939, 0x0193b }, { 0x01a17, 0x01a18 }, { 0x01a1b, 0x01a1b },
  { 0x01a56, 0x01a56 }, { 0x01a58, 0x01a5e }, { 0x01a60, 0x01a60 },
  { 0x01a62, 0x01a62 }, { 0x01a65, 0x01a6c }, { 0x01a73, 0x01a7c },
  { 0x01a7f, 0x01a7f }, { 0x01ab0, 0x01ace }, { 0x01b00, 0x01b03 },
  { 0x01b34, 0x01b34 }, { 0x01b36, 0x01b3a }, { 0x01b3c, 0x01b3c },
  { 0x01b42, 0x01b42 }, { 0x01b6b, 0x01b73 }, { 0x01b80, 0x01b81 },
  { 0x01ba2, 0x01ba5 }, { 0x01ba8, 0x01ba9 }, { 0x01bab, 0x01bad },
  { 0x01be6, 0x01be6 }, { 0x01be8, 0x01be9 }, { 0x01bed, 0x01bed },
  { 0x01bef, 0x01bf1 }, { 0x01c2c, 0x01c33 }, { 0x01c36, 0x01c37 },
  { 0x01cd0, 0x01cd2 }, { 0x01cd4, 0x01ce0 }, { 0x01ce2, 0x01ce8 },
  { 0x01ced, 0x01ced }, { 0x01cf4, 0x01cf4 }, { 0x01cf8, 0x01cf9 },
  { 0x01dc0, 0x01dff }, { 0x0200b, 0x0200f }, { 0x02028, 0x0202e },
  { 0x02060, 0x02063 }, { 0x020d0, 0x020f0 }, { 0x02cef, 0x02cf1 },
  { 0x02d7f, 0x02d7f }, { 0x02de0, 0x02dff }, { 0x0302a, 0x0302d },
  { 0x03099, 0x0309a }, { 0x0a66f, 0x0a672 }, { 0x0a674, 0x0a67d },
  { 0x0a69e, 0x0a69f }, { 0x0a6f0, 0x0a6f1 }, { 0x0a802, 0x0a802 },
  { 0x0a806, 0x0a806 }, { 0x0a80b, 0x0a80b }, { 0x0a825, 0x0a826 },
  { 0x0a82c, 0x0a82c }, { 0x0a8c4, 0x0a8c5 }, { 0x0a8e0, 0x0a8f1 },
  { 0x0a8ff, 0x0a8ff }, { 0x0a926, 0x0a92d }, { 0x0a947, 0x0a951 },
  { 0x0a980, 0x0a982 }, { 0x0a9b3, 0x0a9b3 }, { 0x0a9b6, 0x0a9b9 },
  { 0x0a9bc, 0x0a9bd }, { 0x0a9e5, 0x0a9e5 }, { 0x0aa29, 0x0aa2e },
  { 0x0aa31, 0x0aa32 }, { 0x0aa35, 0x0aa36 }, { 0x0aa43, 0x0aa43 },
  { 0x0aa4c, 0x0aa4c }, { 0x0aa7c, 0x0aa7c }, { 0x0aab0, 0x0aab0 },
  { 0x0aab2, 0x0aab4 }, { 0x0aab7, 0x0aab8 }, { 0x0aabe, 0x0aabf },
  { 0x0aac1, 0x0aac1 }, { 0x0aaec, 0x0aaed }, { 0x0aaf6, 0x0aaf6 },
  { 0x0abe5, 0x0abe5 }, { 0x0abe8, 0x0abe8 }, { 0x0abed, 0x0abed },
  { 0x0fb1e, 0x0fb1e }, { 0x0fe00, 0x0fe0f }, { 0x0fe20, 0x0fe2f },
  { 0x101fd, 0x101fd }, { 0x102e0, 0x102e0 }, { 0x10376, 0x1037a },
  { 0x10a01, 0x10a03 }, { 0x10a05, 0x10a06 }, { 0x10a0c, 0x10a0f },
  { 0x10a38, 0x10a3a }, { 0x10a3f, 0x10a3f }, { 0x10ae5, 0x10ae6 },
  { 0x10d24, 0x10d27 }, { 0x10eab, 0x10eac }, { 0x10efd, 0x10eff },
  { 0x10f46, 0x10f50 }, { 0x10f82, 0x10f85 }, { 0x11001, 0x11001 },
  { 0x11038, 0x11046 }, { 0x11070, 0x11070 }, { 0x11073, 0x11074 },
  { 0x1107f, 0x11081 }, { 0x110b3, 0x110b6 }, { 0x110b9, 0x110ba },
  { 0x110c2, 0x110c2 }, { 0x11100, 0x11102 }, { 0x11127, 0x1112b },
  { 0x1112d, 0x11134 }, { 0x11173, 0x11173 }, { 0x11180, 0x11181 },
  { 0x111b6, 0x111be }, { 0x111c9, 0x111cc }, { 0x111cf, 0x111cf },
  { 0x1122f, 0x11231 }, { 0x11234, 0x11234 }, { 0x11236, 0x11237 },
  { 0x1123e, 0x1123e }, { 0x11241, 0x11241 }, { 0x112df, 0x112df },
  { 0x112e3, 0x112ea }, { 0x11300, 0x11301 }, { 0x1133b, 0x1133c },
  { 0x11340, 0x11340 }, { 0x11366, 0x1136c }, { 0x11370, 0x11374 },
  { 0x11438, 0x1143f }, { 0x11442, 0x11444 }, { 0x11446, 0x11446 },
  { 0x1145e, 0x1145e }, { 0x114b3, 0x114b8 }, { 0x114ba, 0x114ba },
  { 0x114bf, 0x114c0 }, { 0x114c2, 0x114c3 }, { 0x115b2, 0x115b5 },
  { 0x115bc, 0x115bd }, { 0x115bf, 0x115c0 }, { 0x115dc, 0x115dd },
  { 0x11633, 0x1163a }, { 0x1163d, 0x1163d }, { 0x1163f, 0x11640 },
  { 0x116ab, 0x116ab }, { 0x116ad, 0x116ad }, { 0x116b0, 0x116b5 },
  { 0x116b7, 0x116b7 }, { 0x1171d, 0x1171f }, { 0x11722, 0x11725 },
  { 0x11727, 0x1172b }, { 0x1182f, 0x11837 }, { 0x11839, 0x1183a },
  { 0x1193b, 0x1193c }, { 0x1193e, 0x1193e }, { 0x11943, 0x11943 },
  { 0x119d4, 0x119d7 }, { 0x119da, 0x119db }, { 0x119e0, 0x119e0 },
  { 0x11a01, 0x11a0a }, { 0x11a33, 0x11a38 }, { 0x11a3b, 0x11a3e },
  { 0x11a47, 0x11a47 }, { 0x11a51, 0x11a56 }, { 0x11a59, 0x11a5b },
  { 0x11a8a, 0x11a96 }, { 0x11a98, 0x11a99 }, { 0x11c30, 0x11c36 },
  { 0x11c38, 0x11c3d }, { 0x11c3f, 0x11c3f }, { 0x11c92, 0x11ca7 },
  { 0x11caa, 0x11cb0 }, { 0x11cb2, 0x11cb3 }, { 0x11cb5, 0x11cb6 },
  { 0x11d31, 0x11d36 }, { 0x11d3a, 0x11d3a }, { 0x11d3c, 0x11d3d },
  { 0x11d3f, 0x11d45 }, { 0x11d47, 0x11d47 }, { 0x11d90, 0x11d91 },
  { 0x11d95, 0x11d95 }, { 0x11d97, 0x11d97 }, { 0x11ef3, 0x11ef4 },
  { 0x11f00, 0x11f01 }, { 0x11f36, 0x11f3a }, { 0x11f40, 0x11f40 },
  { 0x11f42, 0x11f42 }, { 0x13440, 0x13440 }, { 0x13447, 0x13455 },
  { 0x16af0, 0x16af4 }, { 0x16b30, 0x16b36 }, { 0x16f4f, 0x16f4f },
  { 0x16f8f, 0x16f92 }, { 0x16fe4, 0x16fe4 }, { 0x1bc9d, 0x1bc9e },
  { 0x1cf00, 0x1cf2d }, { 0x1cf30, 0x1cf46 }, { 0x1d167, 0x1d169 },
  { 0x1d17b, 0x1d182 }, { 0x1d185, 0x1d18b }, { 0x1d1aa, 0x1d1ad },
  { 0x1d242, 0x1d244 }, { 0x1da00, 0x1da36 }, { 0x1da3b, 0x1da6c },
  { 0x1da75, 0x1da75 }, { 0x1da84, 0x1da84 }, { 0x1da9b, 0x1da9f },
  { 0x1daa1, 0x1daaf }, { 0x1e000, 0x1e006 }, { 0x1e008, 0x1e018 },
  { 0x1e01b, 0x1e021 }, { 0x1e023, 0x1e024 }, { 0x1e026, 0x1e02a },
  { 0x1e08f, 0x1e08f }, { 0x1e130, 0x1e136 }, { 0x1e2ae, 0x1e2ae },
  { 0x1e2ec, 0x1e2ef }, { 0x1e4ec, 0x1e4ef }, { 0x1e8d0, 0x1e8d6 },
  { 0x1e944, 0x1e94a }, { 0xe0100, 0xe01ef },
};
static const struct width_range wide[] = {
  { 0x01100, 0x0115f }, { 0x0231a, 0x0231b }, { 0x02329, 0x0232a },
  { 0x023e9, 0x023ec }, { 0x023f0, 0x023f0 }, { 0x023f3, 0x023f3 },
  { 0x025fd, 0x025fe }, { 0x02614, 0x02615 }, { 0x02648, 0x02653 },
  { 0x0267f, 0x0267f }, { 0x02693, 0x02693 }, { 0x026a1, 0x026a1 },
  { 0x026aa, 0x026ab }, { 0x026bd, 0x026be }, { 0x026c4, 0x026c5 },
  { 0x026ce, 0x026ce }, { 0x026d4, 0x026d4 }, { 0x026ea, 0x026ea },
  { 0x026f2, 0x026f3 }, { 0x026f5, 0x026f5 }, { 0x026fa, 0x026fa },
  { 0x026fd, 0x026fd }, { 0x02705, 0x02705 }, { 0x0270a, 0x0270b },
  { 0x02728, 0x02728 }, { 0x0274c, 0x0274c }, { 0x0274e, 0x0274e },
  { 0x02753, 0x02755 }, { 0x02757, 0x02757 }, { 0x02795, 0x02797 },
  { 0x027b0, 0x027b0 }, { 0x027bf, 0x027bf }, { 0x02b1b, 0x02b1c },
  { 0x02b50, 0x02b50 }, { 0x02b55, 0x02b55 }, { 0x02e80, 0x02e99 },
  { 0x02e9b, 0x02ef3 }, { 0x02f00, 0x02fd5 }, { 0x02ff0, 0x02ffb },
  { 0x03000, 0x0303e }, { 0x03041, 0x03096 }, { 0x03099, 0x030ff },
  { 0x03105, 0x0312f }, { 0x03131, 0x0318e }, { 0x03190, 0x031e3 },
  { 0x031f0, 0x0321e }, { 0x03220, 0x03247 }, { 0x03250, 0x04dbf },
  { 0x04e00, 0x0a48c }, { 0x0a490, 0x0a4c6 }, { 0x0a960, 0x0a97c },
  { 0x0ac00, 0x0d7a3 }, { 0x0f900, 0x0faff }, { 0x0fe10, 0x0fe19 },
  { 0x0fe30, 0x0fe52 }, { 0x0fe54, 0x0fe66 }, { 0x0fe68, 0x0fe6b },
  { 0x0ff01, 0x0ff60 }, { 0x0ffe0, 0x0ffe6 }, { 0x16fe0, 0x16fe4 },
  { 0x16ff0, 0x16ff1 }, { 0x17000, 0x187f7 }, { 0x18800, 0x18cd5 },
  { 0x18d00, 0x18d08 }, { 0x1aff0, 0x1aff3 }, { 0x1aff5, 0x1affb },
  { 0x1affd, 0x1affe }, { 0x1b000, 0x1b122 }, { 0x1b132, 0x1b132 },
  { 0x1b150, 0x1b152 }, { 0x1b155, 0x1b155 }, { 0x1b164, 0x1b167 },
  { 0x1b170, 0x1b2fb }, { 0x1f004, 0x1f004 }, { 0x1f0cf, 0x1f0cf },
  { 0x1f18e, 0x1f18e }, { 0x1f191, 0x1f19a }, { 0x1f200, 0x1f202 },
  { 0x1f210, 0x1f23b }, { 0x1f240, 0x1f248 }, { 0x1f250, 0x1f251 },
  { 0x1f260, 0x1f265 }, { 0x1f300, 0x1f320 }, { 0x1f32d, 0x1f335 },
  { 0x1f337, 0x1f37c }, { 0x1f37e, 0x1f393 }, { 0x1f3a0, 0x1f3ca },
  { 0x1f3cf, 0x1f3d3 }, { 0x1f3e0, 0x1f3f0 }, { 0x1f3f4, 0x1f3f4 },
  { 0x1f3f8, 0x1f43e }, { 0x1f440, 0x1f440 }, { 0x1f442, 0x1f4fc },
  { 0x1f4ff, 0x1f53d }, { 0x1f54b, 0x1f54e }, { 0x1f550, 0x1f567 },
  { 0x1f57a, 0x1f57a }, { 0x1f595, 0x1f596 }, { 0x1f5a4, 0x1f5a4 },
  { 0x1f5fb, 0x1f64f }, { 0x1f680, 0x1f6c5 }, { 0x1f6cc, 0x1f6cc },
  { 0x1f6d0, 0x1f6d2 }, { 0x1f6d5, 0x1f6d7 }, { 0x1f6dc, 0x1f6df },
  { 0x1f6eb, 0x1f6ec }, { 0x1f6f4, 0x1f6fc }, { 0x1f7e0, 0x1f7eb },
  { 0x1f7f0, 0x1f7f0 }, { 0x1f90c, 0x1f93a }, { 0x1f93c, 0x1f945 },
  { 0x1f947, 0x1f9ff }, { 0x1fa70, 0x1fa7c }, { 0x1fa80, 0x1fa88 },
  { 0x1fa90, 0x1fabd }, { 0x1fabf, 0x1fac5 }, { 0x1face, 0x1fadb },
  { 0x1fae0, 0x1fae8 }, { 0x1faf0, 0x1faf8 }, { 0x20000, 0x2fffd },
  { 0x30000, 0x3fffd },
};

static int in_ranges(unsigned long cp, const struct width_range *r,
                     size_t n)
{
  size_t lo = 0;
  size_t hi = n;

  if (cp < r[0].first || cp > r[n - 1].last)
    return 0;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cp > r[mid].last)
      lo = mid + 1;
    else if (cp < r[mid].first)
      hi = mid;
    else
      return 1;
  }
  return 0;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static size_t codepoint_width(unsigned long cp)
{
  if (in_ranges(cp, zero_width, COUNT(zero_width)))
    return 0;
  return in_ranges(cp, wide, COUNT(wide)) ? 2 : 1;
}

/*
 * Decode one UTF-8 sequence at s (n > 0 bytes available). Returns its
 * length and sets *cp, or returns 0 when the bytes are not valid UTF-8
 * (overlong forms, surrogates and values past U+10FFFF included).
 */
static size_t utf8_decode(const unsigned char *s, size_t n,
                          unsigned long *cp)
{
  size_t len;
  size_t i;
  unsigned long v;
  unsigned long min;

  if (s[0] < 0xc2 || s[0] > 0xf4)
    return 0;
  if (s[0] < 0xe0) {
    len = 2;
    v = s[0] & 0x1f;
    min = 0x80;
  } else if (s[0] < 0xf0) {
    len = 3;
    v = s[0] & 0x0f;
    min = 0x800;
  } else {
    len = 4;
    v = s[0] & 0x07;
    min = 0x10000;
  }
  if (n < len)
    return 0;
  for (i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    v = (v << 6) | (s[i] & 0x3f);
  }
  if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
    return 0;
  *cp = v;
  return len;
}

size_t zpm_nexe_text_width(const char *s, size_t len)
{
  const unsigned char *p = (const unsigned char *)s;
  size_t width = 0;
  size_t i = 0;

  while (i < len) {
    unsigned long cp;
    size_t n;

    if (p[i] < 0x80) {
      width += p[i] != 0;
      i++;
      continue;
    }
    n = utf8_decode(p + i, len - i, &cp);
    if (n == 0) {
      width++;
      i++;
    } else {
      width += codepoint_width(cp);
      i += n;
    }
  }
  return width;
}

/* --- parsing ------------------------------------------------------------- */

/* Python's str.isspace() on ASCII, which str.strip() and split() use. */
static int is_space(char c)
{
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static struct zpm_nexe_span strip(struct zpm_nexe_span s)
{
  while (s.len > 0 && is_space(s.ptr[0])) {
    s.ptr++;
    s.len--;
  }
  while (s.len > 0 && is_space(s.ptr[s.len - 1]))
    s.len--;
  return s;
}

/* The next ','-separated item of a list, as Python's split(','). */
static int next_item(struct zpm_nexe_iter *it, int list,
                     struct zpm_nexe_span *item)
{
  struct zpm_nexe_span *rest = &it->rest[list];
  const char *comma;

  if (!it->more[list])
    return 0;
  comma = rest->len ? memchr(rest->ptr, ',', rest->len) : NULL;
  item->ptr = rest->ptr;
  if (comma == NULL) {
    item->len = rest->len;
    it->more[list] = 0;
  } else {
    item->len = (size_t)(comma - rest->ptr);
    rest->ptr = comma + 1;
    rest->len -= item->len + 1;
  }
  return 1;
}

int zpm_nexe_begin(struct zpm_nexe_iter *it,
                   const struct zpm_nexe_headers *h, struct zpm_error *err)
{
  const struct zpm_nexe_span *lists[4];
  struct zpm_nexe_span first;
  int i;

  lists[LIST_SYSTEM] = &h->system;
  lists[LIST_STATUS] = &h->status;
  lists[LIST_RETCODE] = &h->retcode;
  lists[LIST_CDR] = &h->cdr;
  memset(it, 0, sizeof(*it));
  for (i = 0; i < 4; i++) {
    if (lists[i]->ptr == NULL)
      return zpm_error_set(err, ZPM_EINVAL,
                           "the server did not report execution "
                           "statistics (no %s header): is it ZeroCloud?",
                           header_names[i]);
    it->rest[i] = *lists[i];
    it->more[i] = 1;
  }
  next_item(it, LIST_CDR, &first);
  it->total = strip(first);
  return ZPM_OK;
}

/* Split a stats item on whitespace into row cells 4..13; count them all. */
static size_t split_stats(struct zpm_nexe_span item, struct zpm_nexe_row *row)
{
  size_t count = 0;
  size_t i = 0;

  while (i < item.len) {
    size_t start;

    while (i < item.len && is_space(item.ptr[i]))
      i++;
    if (i == item.len)
      break;
    start = i;
    while (i < item.len && !is_space(item.ptr[i]))
      i++;
    if (count < ZPM_NEXE_STATS) {
      row->cell[4 + count].ptr = item.ptr + start;
      row->cell[4 + count].len = i - start;
    }
    count++;
  }
  return count;
}

int zpm_nexe_next(struct zpm_nexe_iter *it, struct zpm_nexe_row *row,
                  int *has_row, struct zpm_error *err)
{
  struct zpm_nexe_span stats;
  size_t count;
  size_t shown;

  *has_row = 0;
  if (!next_item(it, LIST_SYSTEM, &row->cell[0]) ||
      !next_item(it, LIST_STATUS, &row->cell[1]) ||
      !next_item(it, LIST_RETCODE, &row->cell[2]) ||
      !next_item(it, LIST_CDR, &row->cell[3]) ||
      !next_item(it, LIST_CDR, &stats))
    return ZPM_OK;
  row->cell[3] = strip(row->cell[3]);
  count = split_stats(stats, row);
  it->index++;
  if (count != ZPM_NEXE_STATS) {
    stats = strip(stats);
    shown = stats.len > 80 ? 80 : stats.len;
    return zpm_error_set(err, ZPM_EINVAL,
                         "X-Nexe-Cdr-Line: node '%.*s' (row %lu) has %lu "
                         "statistics, expected %d: '%.*s%s'",
                         (int)(row->cell[0].len > 80 ? 80
                               : row->cell[0].len), row->cell[0].ptr,
                         it->index, (unsigned long)count, ZPM_NEXE_STATS,
                         (int)shown, stats.ptr,
                         shown < stats.len ? "..." : "");
  }
  *has_row = 1;
  return ZPM_OK;
}

/* --- rendering ----------------------------------------------------------- */

struct layout {
  size_t width[ZPM_NEXE_COLUMNS];
  unsigned long rows;
  size_t extra;       /* bytes beyond one per column of cell text */
  size_t line;        /* bytes in a rule, and in a line of ASCII text */
};

/* The first walk: check every row and find the column widths. */
static int measure(const struct zpm_nexe_headers *h, struct layout *lay,
                   struct zpm_error *err)
{
  struct zpm_nexe_iter it;
  struct zpm_nexe_row row;
  int has_row;
  int rc;
  int c;

  memset(lay, 0, sizeof(*lay));
  for (c = 0; c < ZPM_NEXE_COLUMNS; c++)
    lay->width[c] = strlen(zpm_nexe_column_names[c]);
  rc = zpm_nexe_begin(&it, h, err);
  while (rc == ZPM_OK) {
    rc = zpm_nexe_next(&it, &row, &has_row, err);
    if (rc != ZPM_OK || !has_row)
      break;
    lay->rows++;
    for (c = 0; c < ZPM_NEXE_COLUMNS; c++) {
      size_t w = zpm_nexe_text_width(row.cell[c].ptr, row.cell[c].len);
      if (w > lay->width[c])
        lay->width[c] = w;
      lay->extra += row.cell[c].len - w;
    }
  }
  lay->line = 1;
  for (c = 0; c < ZPM_NEXE_COLUMNS; c++)
    lay->line += lay->width[c] + 3;
  return rc;
}

static size_t table_size(const struct layout *lay)
{
  size_t lines = 4 + (size_t)lay->rows;
  return lines * lay->line + lay->extra + (lines - 1);
}

int zpm_nexe_measure(const struct zpm_nexe_headers *h,
                     unsigned long *rows, size_t *size,
                     struct zpm_error *err)
{
  struct layout lay;
  int rc = measure(h, &lay, err);

  if (rc != ZPM_OK)
    return rc;
  if (rows != NULL)
    *rows = lay.rows;
  if (size != NULL)
    *size = table_size(&lay);
  return ZPM_OK;
}

/* Output in chunks of at most ZPM_NEXE_CHUNK bytes. */
struct writer {
  int (*write)(const char *buf, size_t len, void *ud);
  void *ud;
  int rc;
  size_t used;
  size_t total;
  char buf[ZPM_NEXE_CHUNK];
};

static void flush(struct writer *w)
{
  if (w->rc == 0 && w->used > 0)
    w->rc = w->write(w->buf, w->used, w->ud);
  w->total += w->used;
  w->used = 0;
}

static void put(struct writer *w, const char *s, size_t len)
{
  while (len > 0 && w->rc == 0) {
    size_t room = sizeof(w->buf) - w->used;
    size_t n = len < room ? len : room;
    memcpy(w->buf + w->used, s, n);
    w->used += n;
    s += n;
    len -= n;
    if (w->used == sizeof(w->buf))
      flush(w);
  }
}

static void put_repeat(struct writer *w, char ch, size_t count)
{
  while (count > 0 && w->rc == 0) {
    size_t room = sizeof(w->buf) - w->used;
    size_t n = count < room ? count : room;
    memset(w->buf + w->used, ch, n);
    w->used += n;
    count -= n;
    if (w->used == sizeof(w->buf))
      flush(w);
  }
}

static void put_rule(struct writer *w, const struct layout *lay)
{
  int c;

  put(w, "+", 1);
  for (c = 0; c < ZPM_NEXE_COLUMNS; c++) {
    put_repeat(w, '-', lay->width[c] + 2);
    put(w, "+", 1);
  }
}

/* Where the spare space of a cell goes: prettytable's _justify for "c". */
static void centre(size_t width, size_t tw, size_t *left, size_t *right)
{
  size_t excess = width - tw;

  *left = excess / 2;
  *right = excess / 2;
  if (excess % 2 != 0) {
    /* the extra space goes right of text of odd width, left of even */
    if (tw % 2 != 0)
      (*right)++;
    else
      (*left)++;
  }
}

/*
 * One table line. When the whole line fits in the buffer (nearly always:
 * lines are short next to a chunk) it is written straight in; otherwise
 * piece by piece through put, which flushes as it goes.
 */
static void put_line(struct writer *w, const struct layout *lay,
                     const struct zpm_nexe_span *cell)
{
  size_t bound = lay->line;
  size_t left;
  size_t right;
  int c;

  for (c = 0; c < ZPM_NEXE_COLUMNS; c++)
    bound += cell[c].len;
  if (w->rc == 0 && bound <= sizeof(w->buf) - w->used) {
    char *p = w->buf + w->used;

    *p++ = '|';
    for (c = 0; c < ZPM_NEXE_COLUMNS; c++) {
      size_t tw = zpm_nexe_text_width(cell[c].ptr, cell[c].len);
      centre(lay->width[c], tw, &left, &right);
      memset(p, ' ', left + 1);
      p += left + 1;
      memcpy(p, cell[c].ptr, cell[c].len);
      p += cell[c].len;
      memset(p, ' ', right + 1);
      p += right + 1;
      *p++ = '|';
    }
    w->used = (size_t)(p - w->buf);
    return;
  }
  put(w, "|", 1);
  for (c = 0; c < ZPM_NEXE_COLUMNS; c++) {
    size_t tw = zpm_nexe_text_width(cell[c].ptr, cell[c].len);
    centre(lay->width[c], tw, &left, &right);
    put_repeat(w, ' ', left + 1);
    put(w, cell[c].ptr, cell[c].len);
    put_repeat(w, ' ', right + 1);
    put(w, "|", 1);
  }
}

int zpm_nexe_render(const struct zpm_nexe_headers *h,
                    int (*write)(const char *buf, size_t len, void *ud),
                    void *ud, struct zpm_nexe_span *total, size_t *size,
                    struct zpm_error *err)
{
  struct layout lay;
  struct zpm_nexe_iter it;
  struct zpm_nexe_row row;
  struct zpm_nexe_span titles[ZPM_NEXE_COLUMNS];
  struct writer w;
  int has_row;
  int rc;
  int c;

  rc = measure(h, &lay, err);
  if (rc != ZPM_OK)
    return rc;
  w.write = write;
  w.ud = ud;
  w.rc = 0;
  w.used = 0;
  w.total = 0;
  for (c = 0; c < ZPM_NEXE_COLUMNS; c++) {
    titles[c].ptr = zpm_nexe_column_names[c];
    titles[c].len = strlen(zpm_nexe_column_names[c]);
  }
  put_rule(&w, &lay);
  put(&w, "\n", 1);
  put_line(&w, &lay, titles);
  put(&w, "\n", 1);
  put_rule(&w, &lay);
  put(&w, "\n", 1);
  /* The first walk checked every row: this one cannot fail. */
  rc = zpm_nexe_begin(&it, h, err);
  while (rc == ZPM_OK && w.rc == 0) {
    rc = zpm_nexe_next(&it, &row, &has_row, err);
    if (rc != ZPM_OK || !has_row)
      break;
    put_line(&w, &lay, row.cell);
    put(&w, "\n", 1);
  }
  if (rc != ZPM_OK)
    return rc;
  put_rule(&w, &lay);
  flush(&w);
  if (w.rc != 0)
    return w.rc;
  if (total != NULL)
    *total = it.total;
  if (size != NULL)
    *size = w.total;
  return ZPM_OK;
}
