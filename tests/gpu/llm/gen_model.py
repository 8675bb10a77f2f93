#!/usr/bin/env python3
"""gen_model.py OUTDIR - write a small LLaMA-architecture GGUF model with
random weights: OUTDIR/tiny-llama-f16.gguf and OUTDIR/tiny-llama-q8_0.gguf.

Contract: the same --seed and sizes give byte-identical files (every tensor
is drawn from its own numpy PCG64 stream, seeded by (seed, tensor index),
so the f16 and q8_0 variants hold the same weights at two precisions).
The vocabulary is a small SentencePiece-style ("llama") one: <unk>, <s>,
</s>, the 256 byte-fallback tokens, printable ASCII and the prefixes of a
few hundred English words, so any text tokenizes and detokenizes. Nothing
is downloaded. Needs numpy and PyPI's gguf (pure python). Tensors are
streamed to disk one at a time, so memory stays near one tensor's size.
Prints one line per file: its name, size and sha256.
"""
import argparse
import hashlib
import os
import sys

import numpy as np
import gguf

WORDS = """the of and to in is was that for it as with his on be at by he had
this not are but from or have an they which one you were her all she there
would their we him been has when who will more no if out so said what up its
about into than them can only other new some could time these two may then do
first any my now such like our over man me even most made after also did many
before must through back years where much your way well down should because
each just those people how too little state good very make world still own see
men work long get here between both life being under never day same another
know while last might us great old year off come since against go came right
used take three states himself few house use during without again place around
however home small found thought went say part once general high upon school
every does got united left number course war until always away something fact
though water less public put think almost hand enough far took head yet
government system better set told nothing night end why called didn find look
going asked later knew point next program city business give group toward young
days let room president side social present given several order national
possible rather second face per among form important often things looked early
white case john become large big need four within felt children along saw best
church ever least power development light thought model token graph kernel
memory device driver virtual machine host guest stream event module context
""".split()


def vocab():
    """tokens, scores, types of the tokenizer (SentencePiece 'llama')."""
    toks = [("<unk>", 0.0, gguf.TokenType.UNKNOWN),
            ("<s>", 0.0, gguf.TokenType.CONTROL),
            ("</s>", 0.0, gguf.TokenType.CONTROL)]
    toks += [("<0x%02X>" % b, 0.0, gguf.TokenType.BYTE) for b in range(256)]
    pieces = ["\u2581"] + [chr(c) for c in range(33, 127)]
    seen = set(pieces)
    for w in dict.fromkeys(WORDS):  # ordered, unique
        s = "\u2581" + w
        for n in range(2, len(s) + 1):  # every prefix: merges reach s
            if s[:n] not in seen:
                seen.add(s[:n])
                pieces.append(s[:n])
    # SentencePiece merges the adjacent pair of highest score first:
    # longer pieces score higher, earlier words break ties.
    for i, p in enumerate(pieces):
        toks.append((p, -float(i) / len(pieces) + len(p), gguf.TokenType.NORMAL))
    return toks


def shapes(a):
    """(name, numpy shape) of every tensor, in file order."""
    hd = a.embd // a.heads
    out = [("token_embd.weight", (a.vocab, a.embd))]
    for i in range(a.layers):
        b = "blk.%d." % i
        out += [(b + "attn_norm.weight", (a.embd,)),
                (b + "attn_q.weight", (a.embd, a.embd)),
                (b + "attn_k.weight", (a.kv_heads * hd, a.embd)),
                (b + "attn_v.weight", (a.kv_heads * hd, a.embd)),
                (b + "attn_output.weight", (a.embd, a.embd)),
                (b + "ffn_norm.weight", (a.embd,)),
                (b + "ffn_gate.weight", (a.ff, a.embd)),
                (b + "ffn_up.weight", (a.ff, a.embd)),
                (b + "ffn_down.weight", (a.embd, a.ff))]
    out += [("output_norm.weight", (a.embd,)),
            ("output.weight", (a.vocab, a.embd))]
    return out


def weights(seed, idx, name, shape):
    """The f32 values of one tensor: norms near 1, matrices ~N(0, s^2)
    with s = 1/sqrt(fan-in) so activations neither vanish nor overflow
    f16; the output matrix a little hotter so greedy picks vary."""
    rng = np.random.default_rng([seed, idx])
    if len(shape) == 1:
        return (1.0 + 0.1 * rng.standard_normal(shape, np.float32)).astype(np.float32)
    s = 1.0 / np.sqrt(shape[1])
    if name == "output.weight":
        s *= 4.0
    if name == "token_embd.weight":
        s = 1.0
    return (s * rng.standard_normal(shape, np.float32)).astype(np.float32)


def encode(w, qtype):
    """(array to write, raw_dtype or None) of one tensor in one variant;
    1-d tensors (norms) stay f32 as llama.cpp's own quantizer keeps them."""
    if w.ndim == 1:
        return w, None
    if qtype == gguf.GGMLQuantizationType.F16:
        return w.astype(np.float16), None
    return gguf.quants.quantize(w, qtype), qtype


def write(path, a, qtype, ftype):
    tv = vocab()
    hd = a.embd // a.heads
    wr = gguf.GGUFWriter(path, "llama")
    wr.add_name("vgpu-test-tiny-llama-%s" % qtype.name.lower())
    wr.add_context_length(a.ctx)
    wr.add_embedding_length(a.embd)
    wr.add_block_count(a.layers)
    wr.add_feed_forward_length(a.ff)
    wr.add_head_count(a.heads)
    wr.add_head_count_kv(a.kv_heads)
    wr.add_rope_dimension_count(hd)
    wr.add_rope_freq_base(10000.0)
    wr.add_layer_norm_rms_eps(1e-5)
    wr.add_vocab_size(len(tv))
    wr.add_file_type(ftype)
    wr.add_tokenizer_model("llama")
    wr.add_token_list([t[0] for t in tv])
    wr.add_token_scores([t[1] for t in tv])
    wr.add_token_types([int(t[2]) for t in tv])
    wr.add_unk_token_id(0)
    wr.add_bos_token_id(1)
    wr.add_eos_token_id(2)
    wr.add_add_bos_token(True)
    wr.add_add_eos_token(False)
    wr.add_add_space_prefix(True)
    wr.add_uint32("general.seed", a.seed)
    # Tensor infos first (sizes only), then stream the data: one tensor
    # in memory at a time.
    sh = shapes(a)
    for name, shape in sh:
        if len(shape) == 1:
            wr.add_tensor_info(name, shape, np.dtype(np.float32), 4 * shape[0])
        elif qtype == gguf.GGMLQuantizationType.F16:
            wr.add_tensor_info(name, shape, np.dtype(np.float16),
                               2 * shape[0] * shape[1])
        else:
            bs = gguf.quants.quant_shape_to_byte_shape(shape, qtype)
            wr.add_tensor_info(name, bs, np.dtype(np.uint8), bs[0] * bs[1],
                               raw_dtype=qtype)
    wr.write_header_to_file(path)
    wr.write_kv_data_to_file()
    wr.write_ti_data_to_file()
    for idx, (name, shape) in enumerate(sh):
        data, _ = encode(weights(a.seed, idx, name, shape), qtype)
        wr.write_tensor_data(data)
    wr.close()


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for blk in iter(lambda: f.read(1 << 20), b""):
            h.update(blk)
    return h.hexdigest()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("outdir")
    p.add_argument("--seed", type=int, default=20261125)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--embd", type=int, default=1024)
    p.add_argument("--ff", type=int, default=4096)
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--kv-heads", type=int, default=4)
    p.add_argument("--ctx", type=int, default=4096)
    p.add_argument("--tiny", action="store_true",
                   help="2 layers of 256: a quick self-test of the writer")
    a = p.parse_args()
    if a.tiny:
        a.layers, a.embd, a.ff, a.heads, a.kv_heads = 2, 256, 512, 4, 2
    a.vocab = len(vocab())
    if a.embd % a.heads or a.heads % a.kv_heads or a.embd % 32 or a.ff % 32:
        sys.exit("gen_model: heads must divide embd, kv_heads heads; "
                 "embd and ff multiples of 32 (q8_0 blocks)")
    os.makedirs(a.outdir, exist_ok=True)
    for qt, ft, tag in ((gguf.GGMLQuantizationType.F16,
                         gguf.LlamaFileType.MOSTLY_F16, "f16"),
                        (gguf.GGMLQuantizationType.Q8_0,
                         gguf.LlamaFileType.MOSTLY_Q8_0, "q8_0")):
        path = os.path.join(a.outdir, "tiny-llama-%s.gguf" % tag)
        write(path, a, qt, ft)
        print("model %s bytes=%d sha256=%s vocab=%d layers=%d embd=%d" % (
            path, os.path.getsize(path), sha256(path), a.vocab, a.layers,
            a.embd), flush=True)


if __name__ == "__main__":
    main()
