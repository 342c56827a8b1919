"""TD quote parsing (structure only) from the spec document: the attest layer's parse op."""


class QuoteError(Exception):
    def __init__(self, cls):
        super().__init__(cls)
        self.cls = cls


def parse_quote(spec, codec_decode, data):
    """Returns the vector result for attest.parse; codec_decode(name, bytes) -> (flat, size)."""
    enum = spec.enums

    def decode(name, b):
        try:
            return codec_decode(spec, name, b)
        except Exception as e:  # CodecError from the adapter's codec
            raise QuoteError(getattr(e, "cls", "invalid"))

    try:
        header, _ = decode("QUOTE_HEADER", data)
        num = lambda flat, k: int(flat[k], 16)
        if num(header, "tee_type") != enum["QUOTE_TEE_TYPE"]["TDX"]:
            raise QuoteError("not-tdx")
        version = num(header, "version")
        if version not in (enum["QUOTE_VERSION"]["V4"], enum["QUOTE_VERSION"]["V5"]):
            raise QuoteError("unsupported")
        if num(header, "attestation_key_type") != enum["ATTESTATION_KEY_TYPE"]["ECDSA_P256"]:
            raise QuoteError("unsupported")
        v4 = version == enum["QUOTE_VERSION"]["V4"]
        whole, size = decode("QUOTE_V4" if v4 else "QUOTE_V5", data)
        hsize = spec.fixed_size("QUOTE_HEADER")
        if v4:
            body_type = enum["QUOTE_BODY_TYPE"]["TD_REPORT_1_0"]
            body_struct = "TD_QUOTE_BODY_1_0"
            body_bytes = data[hsize:hsize + spec.fixed_size(body_struct)]
        else:
            body_type = num(whole, "body_type")
            types = enum["QUOTE_BODY_TYPE"]
            if body_type == types["TD_REPORT_1_0"]:
                body_struct = "TD_QUOTE_BODY_1_0"
            elif body_type == types["TD_REPORT_1_5"]:
                body_struct = "TD_QUOTE_BODY_1_5"
            elif body_type == types["SGX_ENCLAVE_REPORT"]:
                raise QuoteError("not-tdx")
            else:
                raise QuoteError("unsupported")
            body_bytes = bytes.fromhex(whole["body"][4:])
            if len(body_bytes) != spec.fixed_size(body_struct):
                raise QuoteError("invalid")
        body, _ = decode(body_struct, body_bytes)
        cert_type = num(whole, "signature_data.certification_data.type")
        result = {
            "version": version,
            "body_type": body_type,
            "size": size,
            "body": body,
            "certification_data_type": cert_type,
            "pck_chain_certificates": 0,
        }
        if cert_type == enum["CERTIFICATION_DATA_TYPE"]["QE_REPORT_CERTIFICATION_DATA"]:
            inner_bytes = bytes.fromhex(whole["signature_data.certification_data.data"][4:])
            qe, _ = decode("QE_REPORT_CERTIFICATION_DATA", inner_bytes)
            inner_type = num(qe, "certification_data.type")
            result["pck_certification_data_type"] = inner_type
            if inner_type == enum["CERTIFICATION_DATA_TYPE"]["PCK_CERT_CHAIN"]:
                pem = bytes.fromhex(qe["certification_data.data"][4:]).decode("latin-1")
                result["pck_chain_certificates"] = pem.count("-----BEGIN CERTIFICATE-----")
        return result
    except QuoteError as e:
        return {"error": {"class": e.cls}}
