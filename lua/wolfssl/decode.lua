--- TLS wire-format decoder (records, handshake messages, alerts).
--
-- Pure Lua, no bit operators: runs on Lua 5.1-5.4 and LuaJIT. Used by the
-- message trace (`wolfssl.trace`) and by `wolfssl.hello`.
--
--   decode.records(buf)              -> {record...}, consumed
--   decode.handshake_messages(bytes) -> {message...}, leftover
--   decode.fields(type_name, body, ctx) -> fields | nil, "malformed <type>: <why>"
--   decode.alert(payload)            -> {level=, description=, code=} | nil, msg
--   decode.change_cipher_spec(payload) -> {value=1} | nil, msg
--   name tables: cipher_suite_name, group_name, sigscheme_name, alert_name,
--   handshake_type_name, extension_name, content_type_name, version_name
--
-- Garbage never raises: every read goes through a bounds-checked reader whose
-- first failure is remembered ("sticky" error) and reported by the caller.
-- Unknown 16-bit code points are named "0xABCD", unknown 8-bit ones "0xAB".
-- @module wolfssl.decode

local M = {}

local byte, sub, format = string.byte, string.sub, string.format
local floor = math.floor

---------------------------------------------------------------------------
-- helpers

local function hex(s)
  return (s:gsub(".", function(c) return format("%02x", byte(c)) end))
end
M.hex = hex

local function namer(t, width)
  local fmt = width == 1 and "0x%02X" or "0x%04X"
  return function(n)
    if type(n) ~= "number" then return nil end
    return t[n] or format(fmt, n)
  end
end

-- GREASE (RFC 8701): 0x0A0A, 0x1A1A, ... 0xFAFA
local function is_grease(n)
  local lo = n % 256
  return floor(n / 256) == lo and lo % 16 == 10
end

local function namer16(t)
  return function(n)
    if type(n) ~= "number" then return nil end
    if t[n] then return t[n] end
    if is_grease(n) then return "GREASE" end
    return format("0x%04X", n)
  end
end

---------------------------------------------------------------------------
-- name tables

local content_types = {
  [20] = "change_cipher_spec", [21] = "alert", [22] = "handshake",
  [23] = "application_data", [24] = "heartbeat", [25] = "tls12_cid", [26] = "ack",
}

-- the version and alert names: csrc/names.c is their one home (core.names)
local versions = require("wolfssl.core").names.versions

local handshake_types = {
  [0] = "hello_request", [1] = "client_hello", [2] = "server_hello",
  [3] = "hello_verify_request", [4] = "new_session_ticket", [5] = "end_of_early_data",
  [6] = "hello_retry_request", [8] = "encrypted_extensions",
  [9] = "request_connection_id", [10] = "new_connection_id", [11] = "certificate",
  [12] = "server_key_exchange", [13] = "certificate_request", [14] = "server_hello_done",
  [15] = "certificate_verify", [16] = "client_key_exchange",
  [17] = "client_certificate_request", [20] = "finished", [21] = "certificate_url",
  [22] = "certificate_status", [23] = "supplemental_data", [24] = "key_update",
  [25] = "compressed_certificate", [26] = "ekt_key", [254] = "message_hash",
}

local alerts = require("wolfssl.core").names.alerts

local extensions = {
  [0] = "server_name", [1] = "max_fragment_length", [2] = "client_certificate_url",
  [3] = "trusted_ca_keys", [4] = "truncated_hmac", [5] = "status_request",
  [6] = "user_mapping", [7] = "client_authz", [8] = "server_authz", [9] = "cert_type",
  [10] = "supported_groups", [11] = "ec_point_formats", [12] = "srp",
  [13] = "signature_algorithms", [14] = "use_srtp", [15] = "heartbeat", [16] = "alpn",
  [17] = "status_request_v2", [18] = "signed_certificate_timestamp",
  [19] = "client_certificate_type", [20] = "server_certificate_type", [21] = "padding",
  [22] = "encrypt_then_mac", [23] = "extended_master_secret", [24] = "token_binding",
  [25] = "cached_info", [26] = "tls_lts", [27] = "compress_certificate",
  [28] = "record_size_limit", [29] = "pwd_protect", [30] = "pwd_clear",
  [31] = "password_salt", [32] = "ticket_pinning", [33] = "tls_cert_with_extern_psk",
  [34] = "delegated_credential", [35] = "session_ticket", [36] = "TLMSP",
  [37] = "TLMSP_proxying", [38] = "TLMSP_delegate", [39] = "supported_ekt_ciphers",
  [41] = "pre_shared_key", [42] = "early_data", [43] = "supported_versions",
  [44] = "cookie", [45] = "psk_key_exchange_modes", [47] = "certificate_authorities",
  [48] = "oid_filters", [49] = "post_handshake_auth", [50] = "signature_algorithms_cert",
  [51] = "key_share", [52] = "transparency_info", [53] = "connection_id_deprecated",
  [54] = "connection_id", [55] = "external_id_hash", [56] = "external_session_id",
  [57] = "quic_transport_parameters", [58] = "ticket_request", [59] = "dnssec_chain",
  [60] = "sequence_number_encryption_algorithms", [61] = "rrc",
  [13172] = "next_protocol_negotiation", [17513] = "application_settings",
  [0xFE0D] = "encrypted_client_hello", [0xFD00] = "ech_outer_extensions",
  [0xFF01] = "renegotiation_info",
}

local groups = {
  [1] = "sect163k1", [2] = "sect163r1", [3] = "sect163r2", [4] = "sect193r1",
  [5] = "sect193r2", [6] = "sect233k1", [7] = "sect233r1", [8] = "sect239k1",
  [9] = "sect283k1", [10] = "sect283r1", [11] = "sect409k1", [12] = "sect409r1",
  [13] = "sect571k1", [14] = "sect571r1", [15] = "secp160k1", [16] = "secp160r1",
  [17] = "secp160r2", [18] = "secp192k1", [19] = "secp192r1", [20] = "secp224k1",
  [21] = "secp224r1", [22] = "secp256k1", [23] = "secp256r1", [24] = "secp384r1",
  [25] = "secp521r1", [26] = "brainpoolP256r1", [27] = "brainpoolP384r1",
  [28] = "brainpoolP512r1", [29] = "x25519", [30] = "x448",
  [31] = "brainpoolP256r1tls13", [32] = "brainpoolP384r1tls13",
  [33] = "brainpoolP512r1tls13", [256] = "ffdhe2048", [257] = "ffdhe3072",
  [258] = "ffdhe4096", [259] = "ffdhe6144", [260] = "ffdhe8192",
  [512] = "MLKEM512", [513] = "MLKEM768", [514] = "MLKEM1024",
  [0x11EB] = "SecP256r1MLKEM768", [0x11EC] = "X25519MLKEM768",
  [0x11ED] = "SecP384r1MLKEM1024", [0x6399] = "X25519Kyber768Draft00",
  [0xFF01] = "arbitrary_explicit_prime_curves", [0xFF02] = "arbitrary_explicit_char2_curves",
}

local sigschemes = {
  [0x0201] = "rsa_pkcs1_sha1", [0x0203] = "ecdsa_sha1",
  [0x0401] = "rsa_pkcs1_sha256", [0x0403] = "ecdsa_secp256r1_sha256",
  [0x0420] = "rsa_pkcs1_sha256_legacy",
  [0x0501] = "rsa_pkcs1_sha384", [0x0503] = "ecdsa_secp384r1_sha384",
  [0x0520] = "rsa_pkcs1_sha384_legacy",
  [0x0601] = "rsa_pkcs1_sha512", [0x0603] = "ecdsa_secp521r1_sha512",
  [0x0620] = "rsa_pkcs1_sha512_legacy",
  [0x0704] = "eccsi_sha256", [0x0705] = "iso_ibs1", [0x0706] = "iso_ibs2",
  [0x0707] = "iso_chinese_ibs", [0x0708] = "sm2sig_sm3",
  [0x0709] = "gostr34102012_256a", [0x070A] = "gostr34102012_256b",
  [0x070B] = "gostr34102012_256c", [0x070C] = "gostr34102012_256d",
  [0x070D] = "gostr34102012_512a", [0x070E] = "gostr34102012_512b",
  [0x070F] = "gostr34102012_512c",
  [0x0804] = "rsa_pss_rsae_sha256", [0x0805] = "rsa_pss_rsae_sha384",
  [0x0806] = "rsa_pss_rsae_sha512", [0x0807] = "ed25519", [0x0808] = "ed448",
  [0x0809] = "rsa_pss_pss_sha256", [0x080A] = "rsa_pss_pss_sha384",
  [0x080B] = "rsa_pss_pss_sha512",
  [0x081A] = "ecdsa_brainpoolP256r1tls13_sha256",
  [0x081B] = "ecdsa_brainpoolP384r1tls13_sha384",
  [0x081C] = "ecdsa_brainpoolP512r1tls13_sha512",
  [0x0904] = "mldsa44", [0x0905] = "mldsa65", [0x0906] = "mldsa87",
}
-- TLS 1.2 (hash, signature) pairs that have no TLS 1.3 SignatureScheme name
local hash_names = { [1] = "md5", [2] = "sha1", [3] = "sha224", [4] = "sha256",
                     [5] = "sha384", [6] = "sha512" }
local sig_names = { [1] = "rsa_pkcs1", [2] = "dsa", [3] = "ecdsa" }

local cipher_suites = {
  [0x0000] = "TLS_NULL_WITH_NULL_NULL", [0x0001] = "TLS_RSA_WITH_NULL_MD5",
  [0x0002] = "TLS_RSA_WITH_NULL_SHA", [0x0004] = "TLS_RSA_WITH_RC4_128_MD5",
  [0x0005] = "TLS_RSA_WITH_RC4_128_SHA", [0x000A] = "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
  [0x0013] = "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA",
  [0x0016] = "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
  [0x002F] = "TLS_RSA_WITH_AES_128_CBC_SHA", [0x0032] = "TLS_DHE_DSS_WITH_AES_128_CBC_SHA",
  [0x0033] = "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", [0x0035] = "TLS_RSA_WITH_AES_256_CBC_SHA",
  [0x0038] = "TLS_DHE_DSS_WITH_AES_256_CBC_SHA", [0x0039] = "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
  [0x003B] = "TLS_RSA_WITH_NULL_SHA256", [0x003C] = "TLS_RSA_WITH_AES_128_CBC_SHA256",
  [0x003D] = "TLS_RSA_WITH_AES_256_CBC_SHA256",
  [0x0040] = "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256",
  [0x0041] = "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA",
  [0x0045] = "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA",
  [0x0067] = "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
  [0x006A] = "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256",
  [0x006B] = "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
  [0x0084] = "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA",
  [0x0088] = "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA",
  [0x008C] = "TLS_PSK_WITH_AES_128_CBC_SHA", [0x008D] = "TLS_PSK_WITH_AES_256_CBC_SHA",
  [0x0090] = "TLS_DHE_PSK_WITH_AES_128_CBC_SHA", [0x0091] = "TLS_DHE_PSK_WITH_AES_256_CBC_SHA",
  [0x0094] = "TLS_RSA_PSK_WITH_AES_128_CBC_SHA", [0x0095] = "TLS_RSA_PSK_WITH_AES_256_CBC_SHA",
  [0x009C] = "TLS_RSA_WITH_AES_128_GCM_SHA256", [0x009D] = "TLS_RSA_WITH_AES_256_GCM_SHA384",
  [0x009E] = "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
  [0x009F] = "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
  [0x00A2] = "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256",
  [0x00A3] = "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384",
  [0x00A8] = "TLS_PSK_WITH_AES_128_GCM_SHA256", [0x00A9] = "TLS_PSK_WITH_AES_256_GCM_SHA384",
  [0x00AA] = "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256",
  [0x00AB] = "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384",
  [0x00AC] = "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256",
  [0x00AD] = "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384",
  [0x00AE] = "TLS_PSK_WITH_AES_128_CBC_SHA256", [0x00AF] = "TLS_PSK_WITH_AES_256_CBC_SHA384",
  [0x00B0] = "TLS_PSK_WITH_NULL_SHA256", [0x00B1] = "TLS_PSK_WITH_NULL_SHA384",
  [0x00B2] = "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256",
  [0x00B3] = "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384",
  [0x00B6] = "TLS_RSA_PSK_WITH_AES_128_CBC_SHA256",
  [0x00B7] = "TLS_RSA_PSK_WITH_AES_256_CBC_SHA384",
  [0x00BA] = "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256",
  [0x00BE] = "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256",
  [0x00C0] = "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256",
  [0x00C4] = "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256",
  [0x00C6] = "TLS_SM4_GCM_SM3", [0x00C7] = "TLS_SM4_CCM_SM3",
  [0x00FF] = "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
  [0x1301] = "TLS_AES_128_GCM_SHA256", [0x1302] = "TLS_AES_256_GCM_SHA384",
  [0x1303] = "TLS_CHACHA20_POLY1305_SHA256", [0x1304] = "TLS_AES_128_CCM_SHA256",
  [0x1305] = "TLS_AES_128_CCM_8_SHA256", [0x1306] = "TLS_AEGIS_256_SHA512",
  [0x1307] = "TLS_AEGIS_128L_SHA256",
  [0x5600] = "TLS_FALLBACK_SCSV",
  [0xC001] = "TLS_ECDH_ECDSA_WITH_NULL_SHA", [0xC002] = "TLS_ECDH_ECDSA_WITH_RC4_128_SHA",
  [0xC003] = "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA",
  [0xC004] = "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA",
  [0xC005] = "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA",
  [0xC006] = "TLS_ECDHE_ECDSA_WITH_NULL_SHA", [0xC007] = "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
  [0xC008] = "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
  [0xC009] = "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
  [0xC00A] = "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
  [0xC00B] = "TLS_ECDH_RSA_WITH_NULL_SHA", [0xC00C] = "TLS_ECDH_RSA_WITH_RC4_128_SHA",
  [0xC00D] = "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA",
  [0xC00E] = "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA", [0xC00F] = "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA",
  [0xC010] = "TLS_ECDHE_RSA_WITH_NULL_SHA", [0xC011] = "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
  [0xC012] = "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
  [0xC013] = "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
  [0xC014] = "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
  [0xC023] = "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
  [0xC024] = "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
  [0xC025] = "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256",
  [0xC026] = "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384",
  [0xC027] = "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
  [0xC028] = "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
  [0xC029] = "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256",
  [0xC02A] = "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384",
  [0xC02B] = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
  [0xC02C] = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
  [0xC02D] = "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256",
  [0xC02E] = "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384",
  [0xC02F] = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
  [0xC030] = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
  [0xC031] = "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256",
  [0xC032] = "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384",
  [0xC035] = "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA",
  [0xC036] = "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA",
  [0xC037] = "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256",
  [0xC038] = "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384",
  [0xC03A] = "TLS_ECDHE_PSK_WITH_NULL_SHA256", [0xC03B] = "TLS_ECDHE_PSK_WITH_NULL_SHA384",
  [0xC072] = "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256",
  [0xC073] = "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384",
  [0xC076] = "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256",
  [0xC077] = "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384",
  [0xC07A] = "TLS_RSA_WITH_CAMELLIA_128_GCM_SHA256",
  [0xC07B] = "TLS_RSA_WITH_CAMELLIA_256_GCM_SHA384",
  [0xC07C] = "TLS_DHE_RSA_WITH_CAMELLIA_128_GCM_SHA256",
  [0xC07D] = "TLS_DHE_RSA_WITH_CAMELLIA_256_GCM_SHA384",
  [0xC086] = "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_GCM_SHA256",
  [0xC087] = "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_GCM_SHA384",
  [0xC08A] = "TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256",
  [0xC08B] = "TLS_ECDHE_RSA_WITH_CAMELLIA_256_GCM_SHA384",
  [0xC09C] = "TLS_RSA_WITH_AES_128_CCM", [0xC09D] = "TLS_RSA_WITH_AES_256_CCM",
  [0xC09E] = "TLS_DHE_RSA_WITH_AES_128_CCM", [0xC09F] = "TLS_DHE_RSA_WITH_AES_256_CCM",
  [0xC0A0] = "TLS_RSA_WITH_AES_128_CCM_8", [0xC0A1] = "TLS_RSA_WITH_AES_256_CCM_8",
  [0xC0A2] = "TLS_DHE_RSA_WITH_AES_128_CCM_8", [0xC0A3] = "TLS_DHE_RSA_WITH_AES_256_CCM_8",
  [0xC0A4] = "TLS_PSK_WITH_AES_128_CCM", [0xC0A5] = "TLS_PSK_WITH_AES_256_CCM",
  [0xC0A6] = "TLS_DHE_PSK_WITH_AES_128_CCM", [0xC0A7] = "TLS_DHE_PSK_WITH_AES_256_CCM",
  [0xC0A8] = "TLS_PSK_WITH_AES_128_CCM_8", [0xC0A9] = "TLS_PSK_WITH_AES_256_CCM_8",
  [0xC0AA] = "TLS_PSK_DHE_WITH_AES_128_CCM_8", [0xC0AB] = "TLS_PSK_DHE_WITH_AES_256_CCM_8",
  [0xC0AC] = "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", [0xC0AD] = "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
  [0xC0AE] = "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
  [0xC0AF] = "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8",
  [0xCCA8] = "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
  [0xCCA9] = "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
  [0xCCAA] = "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
  [0xCCAB] = "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256",
  [0xCCAC] = "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
  [0xCCAD] = "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
  [0xCCAE] = "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256",
  [0xD001] = "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256",
  [0xD002] = "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384",
  [0xD003] = "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256",
  [0xD005] = "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256",
}

local point_formats = { [0] = "uncompressed", [1] = "ansiX962_compressed_prime",
                        [2] = "ansiX962_compressed_char2" }
local psk_modes = { [0] = "psk_ke", [1] = "psk_dhe_ke" }
local cert_types = { [1] = "rsa_sign", [2] = "dss_sign", [3] = "rsa_fixed_dh",
  [4] = "dss_fixed_dh", [5] = "rsa_ephemeral_dh", [6] = "dss_ephemeral_dh",
  [20] = "fortezza_dms", [64] = "ecdsa_sign", [65] = "rsa_fixed_ecdh",
  [66] = "ecdsa_fixed_ecdh", [67] = "gost_sign256", [68] = "gost_sign512" }
local compress_algs = { [1] = "zlib", [2] = "brotli", [3] = "zstd" }

M.content_type_name   = namer(content_types, 1)
M.handshake_type_name = namer(handshake_types, 1)
M.alert_name          = namer(alerts, 1)
M.version_name        = namer16(versions)
M.extension_name      = namer16(extensions)
M.group_name          = namer16(groups)
M.cipher_suite_name   = namer16(cipher_suites)

-- a protocol version before TLS 1.3 (TLS 1.0-1.2, DTLS 1.0/1.2)
local function before13(v)
  return type(v) == "number" and ((v >= 0x0300 and v < 0x0304) or v == 0xFEFF or v == 0xFEFD)
end
M.before13 = before13

-- The name of a signature scheme code, read as the protocol version says
-- (unknown version: TLS 1.3's names). Before TLS 1.3 the code is a (hash,
-- signature) pair: 0x0603 is ECDSA with SHA-512 on any curve, not
-- ecdsa_secp521r1_sha512 (RFC 5246 7.4.1.4.1, RFC 8446 4.2.3).
function M.sigscheme_name(n, version)
  if type(n) ~= "number" then return nil end
  local h, s = floor(n / 256), n % 256
  if before13(version) and hash_names[h] and sig_names[s] then
    return sig_names[s] .. "_" .. hash_names[h]
  end
  if sigschemes[n] then return sigschemes[n] end
  if hash_names[h] and sig_names[s] then return sig_names[s] .. "_" .. hash_names[h] end
  if is_grease(n) then return "GREASE" end
  return format("0x%04X", n)
end

-- the random of a HelloRetryRequest (RFC 8446 4.1.3)
local HRR_RANDOM = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"
M.HRR_RANDOM = HRR_RANDOM

---------------------------------------------------------------------------
-- bounds-checked reader with a sticky error shared by its sub-readers

local Reader = {}
Reader.__index = Reader

local function reader(s, st)
  return setmetatable({ s = s, pos = 1, last = #s, st = st or {} }, Reader)
end
M.reader = reader

function Reader:fail(why)
  if not self.st.err then self.st.err = why end
  self.pos = self.last + 1
  return nil
end

function Reader:err() return self.st.err end
function Reader:left() return self.last - self.pos + 1 end

function Reader:need(n, what)
  if self.st.err then return false end
  if self:left() < n then
    self:fail(format("%s: need %d bytes, %d left", what or "truncated", n, self:left()))
    return false
  end
  return true
end

-- unsigned big-endian integer of n bytes (n <= 4); 0 after a failure
function Reader:uint(n, what)
  if not self:need(n, what) then return 0 end
  local v = 0
  for i = self.pos, self.pos + n - 1 do v = v * 256 + byte(self.s, i) end
  self.pos = self.pos + n
  return v
end
function Reader:u8(what) return self:uint(1, what) end
function Reader:u16(what) return self:uint(2, what) end
function Reader:u24(what) return self:uint(3, what) end
function Reader:u32(what) return self:uint(4, what) end

-- n raw bytes; "" after a failure
function Reader:bytes(n, what)
  if not self:need(n, what) then return "" end
  local v = sub(self.s, self.pos, self.pos + n - 1)
  self.pos = self.pos + n
  return v
end

function Reader:rest()
  if self.st.err then return "" end
  return self:bytes(self:left())
end

-- opaque<min..max> with an lb-byte length prefix
function Reader:vec(lb, what, min)
  local n = self:uint(lb, what)
  if self.st.err then return "" end
  if min and n < min then
    self:fail(format("%s: length %d below minimum %d", what or "vector", n, min))
    return ""
  end
  return self:bytes(n, what)
end

-- a reader over the next length-prefixed vector, sharing the error state
function Reader:subvec(lb, what, min)
  return reader(self:vec(lb, what, min), self.st)
end

function Reader:expect_end(what)
  if not self.st.err and self:left() ~= 0 then
    self:fail(format("%d unexpected trailing bytes%s", self:left(),
                     what and (" after " .. what) or ""))
  end
end

-- list of u16 or u8 code points, mapped through a name function
function Reader:list(width, namefn, what)
  local out = {}
  if self:left() % width ~= 0 then self:fail(what .. ": odd length"); return out end
  while self:left() > 0 and not self.st.err do
    out[#out + 1] = namefn(self:uint(width, what))
  end
  return out
end

---------------------------------------------------------------------------
-- extensions

local ext_decoders = {}

local function names16(namefn, what, lb)
  return function(r)
    local v = r:subvec(lb or 2, what, 2):list(2, namefn, what)
    return v
  end
end

local function u8names(t, what)
  local fn = namer(t, 1)
  return function(r) return r:subvec(1, what, 1):list(1, fn, what) end
end

ext_decoders.server_name = function(r, kind)
  if r:left() == 0 then return true end       -- server's acknowledgement
  local list = r:subvec(2, "server_name list", 1)
  local name
  while list:left() > 0 and not list:err() do
    local t = list:u8("name_type")
    local v = list:vec(2, "host_name", 1)
    if t == 0 and not name then name = v end
  end
  return name or false
end

ext_decoders.alpn = function(r, kind)
  local list = r:subvec(2, "protocol_name_list", 2)
  local out = {}
  while list:left() > 0 and not list:err() do
    out[#out + 1] = list:vec(1, "protocol_name", 1)
  end
  return out
end

ext_decoders.supported_versions = function(r, kind)
  if kind == "client_hello" then
    return r:subvec(1, "versions", 2):list(2, M.version_name, "versions")
  end
  return M.version_name(r:u16("selected_version"))
end

-- RFC 9849 5: ClientHello: outer {cipher suite, config id, HPKE enc, payload} or
-- inner (empty); EncryptedExtensions: retry_configs (an ECHConfigList);
-- HelloRetryRequest: an 8-byte confirmation
ext_decoders.encrypted_client_hello = function(r, kind)
  if kind == "client_hello" then
    local t = r:u8("ECHClientHelloType")
    if t == 1 then return { inner = true } end
    local f = { outer = true, kdf = r:u16("kdf_id"), aead = r:u16("aead_id"), config_id = r:u8("config_id") }
    f.enc_length = #r:vec(2, "enc")
    f.payload = r:vec(2, "payload", 1)
    f.payload_length = #f.payload
    return f
  elseif kind == "encrypted_extensions" then
    local list = r:subvec(2, "retry_configs", 1)
    local n = 0
    while list:left() > 0 and not list:err() do
      list:u16("version"); list:vec(2, "contents"); n = n + 1
    end
    return { retry_configs = n }
  end
  return { confirmation = r:rest() }
end
-- in an inner ClientHello: the extensions it takes from the outer one
ext_decoders.ech_outer_extensions = function(r)
  return r:subvec(1, "OuterExtensions", 2):list(2, M.extension_name, "OuterExtensions")
end
ext_decoders.supported_groups = names16(M.group_name, "named_group_list")
ext_decoders.signature_algorithms = names16(M.sigscheme_name, "supported_signature_algorithms")
-- the same list named as TLS 1.2 reads it
local function name12(n) return M.sigscheme_name(n, 0x0303) end
local sigschemes12 = names16(name12, "supported_signature_algorithms")
ext_decoders.signature_algorithms_cert = ext_decoders.signature_algorithms
ext_decoders.ec_point_formats = u8names(point_formats, "ec_point_format_list")
ext_decoders.psk_key_exchange_modes = u8names(psk_modes, "ke_modes")

ext_decoders.compress_certificate = function(r)
  return r:subvec(1, "algorithms", 2):list(2, namer(compress_algs, 2), "algorithms")
end

ext_decoders.key_share = function(r, kind)
  if kind == "client_hello" then
    local list, out = r:subvec(2, "client_shares"), {}
    while list:left() > 0 and not list:err() do
      local g = list:u16("group")
      local k = list:vec(2, "key_exchange", 1)
      out[#out + 1] = { group = M.group_name(g), length = #k }
    end
    return out
  elseif kind == "hello_retry_request" then
    return { group = M.group_name(r:u16("selected_group")) }
  end
  local g = r:u16("group")
  local k = r:vec(2, "key_exchange", 1)
  return { group = M.group_name(g), length = #k }
end

ext_decoders.pre_shared_key = function(r, kind)
  if kind ~= "client_hello" then return { selected_identity = r:u16("selected_identity") } end
  local ids, n, nb = r:subvec(2, "identities", 7), 0, 0
  local ages = {}
  while ids:left() > 0 and not ids:err() do
    ids:vec(2, "identity", 1)
    ages[#ages + 1] = ids:u32("obfuscated_ticket_age")
    n = n + 1
  end
  local binders = r:subvec(2, "binders", 33)
  while binders:left() > 0 and not binders:err() do
    binders:vec(1, "binder", 32)
    nb = nb + 1
  end
  return { identities = n, binders = nb }
end

ext_decoders.early_data = function(r, kind)
  if kind == "new_session_ticket" then return { max_early_data_size = r:u32("max") } end
  return true
end

ext_decoders.status_request = function(r, kind)
  if r:left() == 0 then return true end
  local t = r:u8("status_type")
  if kind == "certificate" then         -- TLS 1.3 CertificateEntry: the OCSP response
    local resp = r:vec(3, "response", 1)
    return { type = t == 1 and "ocsp" or t, response = resp, length = #resp }
  end
  local ids = r:vec(2, "responder_id_list")
  r:vec(2, "request_extensions")
  return { type = t == 1 and "ocsp" or t, responder_ids = #ids > 0 }
end

local function empty_true(r) return true end
ext_decoders.extended_master_secret = empty_true
ext_decoders.encrypt_then_mac = empty_true
ext_decoders.post_handshake_auth = empty_true

ext_decoders.session_ticket = function(r) return #r:rest() end
ext_decoders.padding = function(r) return #r:rest() end
ext_decoders.renegotiation_info = function(r) return hex(r:vec(1, "renegotiated_connection")) end
ext_decoders.record_size_limit = function(r) return r:u16("record_size_limit") end
ext_decoders.cookie = function(r) return #r:vec(2, "cookie", 1) end
ext_decoders.max_fragment_length = function(r)
  local v = r:u8("max_fragment_length")
  local sizes = { 512, 1024, 2048, 4096 }
  return sizes[v] or v
end
ext_decoders.certificate_authorities = function(r)
  local list, n = r:subvec(2, "authorities", 3), 0
  while list:left() > 0 and not list:err() do list:vec(2, "DistinguishedName", 1); n = n + 1 end
  return n
end
ext_decoders.signed_certificate_timestamp = function(r) return #r:rest() end

-- extensions<0..2^16-1> for message kind; outer length errors go to r,
-- errors inside one extension are recorded on that entry (entry.error) only.
local function decode_extensions(r, kind)
  local list = r:subvec(2, "extensions")
  local out = {}
  while list:left() > 0 and not list:err() do
    local t = list:u16("extension type")
    local data = list:vec(2, "extension data")
    if list:err() then break end
    local e = { type = t, name = M.extension_name(t), length = #data, data = data }
    local dec = ext_decoders[e.name]
    if dec then
      local er = reader(data)
      local v = dec(er, kind)
      er:expect_end(e.name)
      if er:err() then e.error = er:err() else e.value = v end
    end
    out[#out + 1] = e
  end
  return out
end

local function ext_map(exts)
  local m = {}
  for _, e in ipairs(exts) do
    if m[e.name] == nil then m[e.name] = e end
  end
  return m
end

local function ext_value(map, name)
  local e = map[name]
  if e then return e.value end
  return nil
end

---------------------------------------------------------------------------
-- handshake bodies

local decoders = {}

decoders.client_hello = function(r, ctx)
  local f = {}
  f.legacy_version = r:u16("legacy_version")
  f.random = hex(r:bytes(32, "random"))
  f.session_id = hex(r:vec(1, "session_id"))
  if #f.session_id > 64 then return r:fail("session_id longer than 32 bytes") end
  local cs = r:subvec(2, "cipher_suites", 2)
  f.cipher_suite_ids = {}
  f.cipher_suites = {}
  if cs:left() % 2 == 1 then cs:fail("cipher_suites: odd length") end
  while cs:left() > 0 and not cs:err() do
    local id = cs:u16("cipher_suite")
    f.cipher_suite_ids[#f.cipher_suite_ids + 1] = id
    f.cipher_suites[#f.cipher_suites + 1] = M.cipher_suite_name(id)
  end
  local cm = r:subvec(1, "compression_methods", 1)
  f.compression_methods = {}
  while cm:left() > 0 and not cm:err() do
    local m = cm:u8()
    f.compression_methods[#f.compression_methods + 1] = m == 0 and "null" or m == 1 and "deflate" or m
  end
  if r:left() > 0 then f.extensions = decode_extensions(r, "client_hello") else f.extensions = {} end
  if r:err() then return nil end
  local m = ext_map(f.extensions)
  f.server_name = ext_value(m, "server_name") or nil
  f.alpn = ext_value(m, "alpn")
  f.versions = ext_value(m, "supported_versions")
  if type(f.versions) ~= "table" then f.versions = { M.version_name(f.legacy_version) } end
  f.groups = ext_value(m, "supported_groups")
  f.signature_algorithms = ext_value(m, "signature_algorithms")
  local offers13 = false
  for _, v in ipairs(f.versions) do offers13 = offers13 or v == "TLSv1.3" or v == "DTLSv1.3" end
  if not offers13 then -- a TLS 1.2 hello: its codes are (hash, signature) pairs
    for _, e in ipairs(f.extensions) do
      if (e.type == 13 or e.type == 50) and e.value then e.value = sigschemes12(reader(e.data)) end
    end
    f.signature_algorithms = ext_value(m, "signature_algorithms")
  end
  local ks = ext_value(m, "key_share")
  if type(ks) == "table" then
    f.key_share_groups = {}
    for i, k in ipairs(ks) do f.key_share_groups[i] = k.group end
  end
  f.psk_key_exchange_modes = ext_value(m, "psk_key_exchange_modes")
  f.early_data = m.early_data ~= nil or nil
  return f
end

decoders.server_hello = function(r, ctx)
  local f = {}
  f.legacy_version = r:u16("legacy_version")
  local random = r:bytes(32, "random")
  f.random = hex(random)
  f.session_id = hex(r:vec(1, "session_id"))
  if #f.session_id > 64 then return r:fail("session_id longer than 32 bytes") end
  f.cipher_suite_id = r:u16("cipher_suite")
  f.cipher_suite = M.cipher_suite_name(f.cipher_suite_id)
  local c = r:u8("compression_method")
  f.compression = c == 0 and "null" or c == 1 and "deflate" or c
  f.hello_retry_request = f.random == HRR_RANDOM
  local kind = f.hello_retry_request and "hello_retry_request" or "server_hello"
  if r:left() > 0 then f.extensions = decode_extensions(r, kind) else f.extensions = {} end
  if r:err() then return nil end
  local m = ext_map(f.extensions)
  local sv = m.supported_versions
  if sv and sv.value then
    f.version = sv.data and #sv.data == 2 and (byte(sv.data, 1) * 256 + byte(sv.data, 2)) or nil
  end
  f.version = f.version or f.legacy_version
  f.version_name = M.version_name(f.version)
  local ks = ext_value(m, "key_share")
  if type(ks) == "table" then
    f.key_share_group = ks.group
    f.key_share_length = ks.length
  end
  local alpn = ext_value(m, "alpn")
  if type(alpn) == "table" then f.alpn = alpn[1] end
  if m.server_name then f.server_name_ack = true end
  if m.pre_shared_key and m.pre_shared_key.value then
    f.psk_selected_identity = m.pre_shared_key.value.selected_identity
  end
  return f
end

decoders.hello_retry_request = decoders.server_hello

decoders.encrypted_extensions = function(r, ctx)
  local f = { extensions = decode_extensions(r, "encrypted_extensions") }
  if r:err() then return nil end
  local m = ext_map(f.extensions)
  local alpn = ext_value(m, "alpn")
  if type(alpn) == "table" then f.alpn = alpn[1] end
  if m.server_name then f.server_name_ack = true end
  if m.early_data then f.early_data = true end
  f.record_size_limit = ext_value(m, "record_size_limit")
  f.groups = ext_value(m, "supported_groups")
  return f
end

local function is_tls13(ctx)
  return ctx and ctx.version and ctx.version >= 0x0304 and ctx.version < 0xFE00
      or (ctx and ctx.version == 0xFEFC)
end

local function certificate13(r)
  local f = { tls13 = true }
  f.request_context = hex(r:vec(1, "certificate_request_context"))
  local list = r:subvec(3, "certificate_list")
  f.certificates, f.entries = {}, {}
  while list:left() > 0 and not list:err() do
    local der = list:vec(3, "cert_data", 1)
    local exts = decode_extensions(list, "certificate")
    if list:err() then break end
    f.certificates[#f.certificates + 1] = der
    f.entries[#f.entries + 1] = { der = der, extensions = exts }
  end
  return f
end

local function certificate12(r)
  local f = { tls13 = false }
  local list = r:subvec(3, "certificate_list")
  f.certificates = {}
  while list:left() > 0 and not list:err() do
    f.certificates[#f.certificates + 1] = list:vec(3, "ASN.1Cert", 1)
  end
  return f
end

decoders.certificate = function(r, ctx, body)
  if ctx and ctx.version then
    return is_tls13(ctx) and certificate13(r) or certificate12(r)
  end
  -- version unknown: the TLS 1.2 layout starts with a 24-bit length of the rest
  local n = #body >= 3 and byte(body, 1) * 65536 + byte(body, 2) * 256 + byte(body, 3)
  if n == #body - 3 then return certificate12(r) end
  return certificate13(r)
end

decoders.certificate_request = function(r, ctx, body)
  local f = {}
  local v13 = is_tls13(ctx)
  if not (ctx and ctx.version) then
    -- version unknown: TLS 1.3 starts with a context (usually empty), then a
    -- 16-bit extensions length that covers the rest
    local n = byte(body, 1)
    v13 = n ~= nil and #body >= n + 3
      and byte(body, n + 2) * 256 + byte(body, n + 3) == #body - n - 3
  end
  if v13 then
    f.tls13 = true
    f.request_context = hex(r:vec(1, "certificate_request_context"))
    f.extensions = decode_extensions(r, "certificate_request")
    if r:err() then return nil end
    local m = ext_map(f.extensions)
    f.signature_algorithms = ext_value(m, "signature_algorithms")
    f.authorities = ext_value(m, "certificate_authorities")
    return f
  end
  f.tls13 = false
  f.certificate_types = r:subvec(1, "certificate_types", 1):list(1, namer(cert_types, 1),
                                                                 "certificate_types")
  -- TLS 1.0/1.1 have no signature algorithms here
  if not (ctx and ctx.version and ctx.version < 0x0303 and ctx.version > 0x0300) then
    f.signature_algorithms = sigschemes12(r)
  end
  local cas, n = r:subvec(2, "certificate_authorities"), 0
  while cas:left() > 0 and not cas:err() do cas:vec(2, "DistinguishedName", 1); n = n + 1 end
  f.authorities = n
  return f
end

decoders.certificate_verify = function(r, ctx)
  local f = {}
  f.scheme_id = r:u16("algorithm")
  f.scheme = M.sigscheme_name(f.scheme_id, ctx and ctx.version)
  f.signature_length = #r:vec(2, "signature")
  return f
end

-- key exchange kind of a TLS 1.2 suite: "ECDHE", "DHE", "PSK", "ECDHE_PSK",
-- "DHE_PSK", "RSA_PSK", "RSA", "ECDH"; nil when unknown
local function kx_of(cipher)
  if type(cipher) == "number" then cipher = cipher_suites[cipher] end
  if type(cipher) ~= "string" then return nil end
  local k = cipher:match("^TLS_(.-)_WITH_")
  if k then
    k = k:gsub("_ECDSA$", ""):gsub("_RSA$", ""):gsub("_DSS$", ""):gsub("_anon$", "")
    return k
  end
  if cipher:match("^TLS_PSK_DHE_") then return "DHE_PSK" end
  return nil
end
M.kx_of = kx_of

-- the signature closing a ServerKeyExchange: mandatory when the suite is
-- known to be signed, absent for anonymous and PSK suites, optional otherwise
local function read_signature(r, f, ctx)
  local name = ctx and cipher_suites[ctx.cipher]
  local signed = name and not name:find("_anon_", 1, true) and not f.kx:find("PSK", 1, true)
  if name and not signed then return end
  if not name and r:left() == 0 then return end
  if ctx and ctx.version and ctx.version < 0x0303 then
    f.signature_length = #r:vec(2, "signature", 1)
    return
  end
  f.signature_scheme_id = r:u16("signature algorithm")
  f.signature_scheme = M.sigscheme_name(f.signature_scheme_id, (ctx and ctx.version) or 0x0303)
  f.signature_length = #r:vec(2, "signature", 1)
end

local function ske_ecdhe(r, f, ctx)
  local ct = r:u8("curve_type")
  if ct ~= 3 then return r:fail("curve_type " .. ct .. " is not named_curve") end
  f.group_id = r:u16("named_curve")
  f.group = M.group_name(f.group_id)
  f.curve = f.group
  f.public_key_length = #r:vec(1, "public", 1)
  read_signature(r, f, ctx)
end

local function ske_dhe(r, f, ctx)
  f.p_length = #r:vec(2, "dh_p", 1)
  f.dh_bits = f.p_length * 8
  f.g_length = #r:vec(2, "dh_g", 1)
  f.public_key_length = #r:vec(2, "dh_Ys", 1)
  read_signature(r, f, ctx)
end

decoders.server_key_exchange = function(r, ctx, body)
  local f = {}
  local kx = kx_of(ctx and ctx.cipher)
  if not kx then                           -- guess: named_curve marker and a known curve
    local b1 = byte(body, 1)
    kx = (b1 == 3 and #body >= 3 and groups[byte(body, 2) * 256 + byte(body, 3)])
         and "ECDHE" or "DHE"
  end
  f.kx = kx
  if kx:match("PSK$") then f.psk_hint = r:vec(2, "psk_identity_hint") end
  if kx:match("^ECDHE") then ske_ecdhe(r, f, ctx)
  elseif kx:match("^DHE") then ske_dhe(r, f, ctx)
  elseif kx:match("^ECDH") and r:left() > 0 then ske_ecdhe(r, f, ctx)
  end
  return f
end

decoders.client_key_exchange = function(r, ctx, body)
  local f = {}
  local kx = kx_of(ctx and ctx.cipher)
  f.length = #body
  if not kx then                           -- guess from the length prefixes
    if #body > 0 and byte(body, 1) + 1 == #body then kx = "ECDHE"
    elseif #body > 1 and byte(body, 1) * 256 + byte(body, 2) + 2 == #body then kx = "DHE"
    else kx = "unknown" end
  end
  f.kx = kx
  if kx:match("PSK$") then f.psk_identity = r:vec(2, "psk_identity") end
  if kx:match("^ECDH") then
    f.public_key_length = #r:vec(1, "ecdh_Yc", 1)
  elseif kx:match("^DHE") then
    f.public_key_length = #r:vec(2, "dh_Yc", 1)
  elseif kx == "RSA" or kx == "RSA_PSK" then
    f.encrypted_pms_length = #r:vec(2, "EncryptedPreMasterSecret", 1)
  elseif kx == "unknown" then
    r:rest()
  end
  return f
end

local function empty(r) return {} end
decoders.server_hello_done = empty
decoders.hello_request = empty
decoders.end_of_early_data = empty

decoders.new_session_ticket = function(r, ctx, body)
  local f = {}
  local v13 = is_tls13(ctx)
  if not (ctx and ctx.version) then
    -- TLS 1.2 (RFC 5077): u32 lifetime + u16 ticket length covering the rest
    v13 = not (#body >= 6 and byte(body, 5) * 256 + byte(body, 6) == #body - 6)
  end
  f.lifetime = r:u32("ticket_lifetime")
  if v13 then
    f.tls13 = true
    f.age_add = r:u32("ticket_age_add")
    f.nonce = hex(r:vec(1, "ticket_nonce"))
    f.ticket_length = #r:vec(2, "ticket", 1)
    f.extensions = decode_extensions(r, "new_session_ticket")
    if r:err() then return nil end
    local ed = ext_value(ext_map(f.extensions), "early_data")
    if type(ed) == "table" then f.max_early_data = ed.max_early_data_size end
  else
    f.tls13 = false
    f.ticket_length = #r:vec(2, "ticket")
  end
  return f
end

decoders.finished = function(r)
  local v = r:rest()
  return { verify_data_length = #v, verify_data = hex(v) }
end

decoders.key_update = function(r)
  local v = r:u8("request_update")
  if v > 1 then return r:fail("request_update must be 0 or 1") end
  return { request_update = v == 1 }
end

decoders.hello_verify_request = function(r)
  local f = {}
  f.server_version = r:u16("server_version")
  f.cookie = hex(r:vec(1, "cookie"))
  return f
end

decoders.certificate_status = function(r)
  local f = {}
  local t = r:u8("status_type")
  f.status_type = t == 1 and "ocsp" or t
  f.response = r:vec(3, "response", 1)
  f.length = #f.response
  return f
end

decoders.compressed_certificate = function(r)
  local f = {}
  f.algorithm = namer(compress_algs, 2)(r:u16("algorithm"))
  f.uncompressed_length = r:u24("uncompressed_length")
  f.compressed_length = #r:vec(3, "compressed_certificate_message", 1)
  return f
end

decoders.message_hash = function(r)
  return { hash = hex(r:rest()) }
end

decoders.supplemental_data = function(r)
  local list, n = r:subvec(3, "supp_data"), 0
  while list:left() > 0 and not list:err() do
    list:u16("supp_data_type"); list:vec(2, "supp_data"); n = n + 1
  end
  return { entries = n }
end

--- Decode one handshake body. type_name is a name from handshake_type_name or
-- a number. ctx = {version=, is_server=, cipher=} (all optional).
-- Returns the fields table, or nil, "malformed <type>: <why>".
--- An EncodedClientHelloInner (RFC 9849 5.1) without its zero padding: the
-- ClientHello structure alone (as far as its lengths say).
function M.strip_ech_padding(s)
  local function u(i, n)
    local v = 0
    for k = i, i + n - 1 do v = v * 256 + (s:byte(k) or 0) end
    return v
  end
  local p = 35                      -- version, random
  p = p + 1 + u(p, 1)               -- legacy_session_id
  p = p + 2 + u(p, 2)               -- cipher_suites
  p = p + 1 + u(p, 1)               -- compression methods
  p = p + 2 + u(p, 2)               -- extensions
  return s:sub(1, p - 1)
end

function M.fields(type_name, body, ctx)
  if type(type_name) ~= "string" and type(type_name) ~= "number" then
    error("bad argument #1 to 'fields' (handshake type name or number expected, got " .. type(type_name) .. ")", 2)
  end
  if ctx ~= nil and type(ctx) ~= "table" then
    error("bad argument #3 to 'fields' (table expected, got " .. type(ctx) .. ")", 2)
  end
  if type(type_name) == "number" then type_name = M.handshake_type_name(type_name) end
  if type(body) ~= "string" then
    return nil, format("malformed %s: body is not a string", tostring(type_name))
  end
  local dec = decoders[type_name]
  if not dec then return { length = #body } end
  local r = reader(body)
  local f = dec(r, ctx, body)
  if not r:err() and f then r:expect_end() end
  if r:err() or not f then
    return nil, format("malformed %s: %s", type_name, r:err() or "invalid")
  end
  f.length = #body
  return f
end

--- ChangeCipherSpec payload: a single byte 1.
function M.change_cipher_spec(payload)
  if type(payload) ~= "string" or #payload ~= 1 or byte(payload) ~= 1 then
    return nil, "malformed change_cipher_spec: expected the single byte 1"
  end
  return { value = 1 }
end

--- Alert payload (2 bytes) -> {level=, description=, code=}.
function M.alert(payload)
  if type(payload) ~= "string" or #payload ~= 2 then
    return nil, format("malformed alert: expected 2 bytes, got %s",
                       type(payload) == "string" and #payload or type(payload))
  end
  local l, d = byte(payload, 1, 2)
  local level = l == 1 and "warning" or l == 2 and "fatal" or format("0x%02X", l)
  return { level = level, level_code = l, description = M.alert_name(d), code = d }
end

--- Short names of the common groups (as the `groups` option and wolfSSL spell
-- them), by their IANA names.
M.GROUP_SHORT = { secp256r1 = "P-256", secp384r1 = "P-384", secp521r1 = "P-521", x25519 = "X25519", x448 = "X448" }

-- -------------------------------------------------------------------------
-- framing

--- The record framer (the only one in Lua): the TLS record whose 5-byte
-- header starts at `pos` of `buf`. Returns its content type, version, payload
-- length and the position of its payload; as many of those as `buf` holds:
-- the payload position is nil while the record is incomplete, the length
-- while the header is.
function M.record_at(buf, pos)
  local ct, v1, v2, l1, l2 = byte(buf, pos, pos + 4)
  local version = v2 and v1 * 256 + v2
  if not l2 then return ct, version end
  local len = l1 * 256 + l2
  if #buf - pos - 4 < len then return ct, version, len end
  return ct, version, len, pos + 5
end

--- Split a byte stream into TLS records.
-- Returns the array of complete records and the number of bytes they span;
-- a trailing partial record is left unconsumed.
function M.records(buf)
  local out, pos = {}, 1
  if type(buf) ~= "string" then return out, 0 end
  while true do
    local ct, version, len, start = M.record_at(buf, pos)
    if not start then break end
    out[#out + 1] = {
      content_type = ct,
      content_type_name = M.content_type_name(ct),
      version = version,
      length = len,
      data = sub(buf, start, start + len - 1),
    }
    pos = start + len
  end
  return out, pos - 1
end

--- Split concatenated handshake bytes (the payloads of consecutive handshake
-- records) into messages. Returns the messages and the leftover bytes of an
-- incomplete message (to prepend to the next record's payload).
function M.handshake_messages(stream)
  local out, pos = {}, 1
  if type(stream) ~= "string" then return out, "" end
  local n = #stream
  while n - pos + 1 >= 4 do
    local t, a, b, c = byte(stream, pos, pos + 3)
    local len = a * 65536 + b * 256 + c
    if n - pos + 1 < 4 + len then break end
    out[#out + 1] = {
      type = t,
      type_name = M.handshake_type_name(t),
      length = len,
      data = sub(stream, pos, pos + 3 + len),
      body = sub(stream, pos + 4, pos + 3 + len),
    }
    pos = pos + 4 + len
  end
  return out, sub(stream, pos)
end

return M
