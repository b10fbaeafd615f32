using Google.Protobuf;

namespace P2PSwarm.Inference.Tests.Tokenization;

/// <summary>
/// Writes a small SentencePiece BPE <c>tokenizer.model</c> (sentencepiece_model.proto ModelProto) shaped like
/// Llama-2's: &lt;unk&gt; &lt;s&gt; &lt;/s&gt;, 256 byte-fallback pieces, then scored pieces (higher score merges first),
/// identity normalizer with a dummy prefix.
/// </summary>
internal static class SentencePieceModelWriter
{
    private const int Normal = 1, Unknown = 2, Control = 3, Byte = 6;
    private const int BpeModelType = 2;

    public static byte[] Write(IReadOnlyList<string> pieces)
    {
        using var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        var all = new List<(string Piece, float Score, int Type)> { ("<unk>", 0, Unknown), ("<s>", 0, Control), ("</s>", 0, Control) };
        all.AddRange(Enumerable.Range(0, 256).Select(b => ($"<0x{b:X2}>", 0f, Byte)));
        all.AddRange(pieces.Select((p, i) => (p, -(float)i, Normal)));
        foreach (var (piece, score, type) in all)
        {
            output.WriteTag(1, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(Message(o =>
            {
                o.WriteTag(1, WireFormat.WireType.LengthDelimited);
                o.WriteString(piece);
                o.WriteTag(2, WireFormat.WireType.Fixed32);
                o.WriteFloat(score);
                o.WriteTag(3, WireFormat.WireType.Varint);
                o.WriteEnum(type);
            }));
        }
        output.WriteTag(2, WireFormat.WireType.LengthDelimited); // trainer_spec
        output.WriteBytes(Message(o =>
        {
            o.WriteTag(3, WireFormat.WireType.Varint);
            o.WriteEnum(BpeModelType);
            o.WriteTag(4, WireFormat.WireType.Varint);
            o.WriteInt32(all.Count);
            o.WriteTag(35, WireFormat.WireType.Varint); // byte_fallback
            o.WriteBool(true);
            o.WriteTag(40, WireFormat.WireType.Varint); // unk_id
            o.WriteInt32(0);
            o.WriteTag(41, WireFormat.WireType.Varint); // bos_id
            o.WriteInt32(1);
            o.WriteTag(42, WireFormat.WireType.Varint); // eos_id
            o.WriteInt32(2);
            o.WriteTag(43, WireFormat.WireType.Varint); // pad_id
            o.WriteInt32(-1);
        }));
        output.WriteTag(3, WireFormat.WireType.LengthDelimited); // normalizer_spec
        output.WriteBytes(Message(o =>
        {
            o.WriteTag(1, WireFormat.WireType.LengthDelimited);
            o.WriteString("identity");
            o.WriteTag(3, WireFormat.WireType.Varint); // add_dummy_prefix
            o.WriteBool(true);
            o.WriteTag(4, WireFormat.WireType.Varint); // remove_extra_whitespaces
            o.WriteBool(false);
            o.WriteTag(5, WireFormat.WireType.Varint); // escape_whitespaces
            o.WriteBool(true);
        }));
        output.Flush();
        return stream.ToArray();
    }

    private static ByteString Message(Action<CodedOutputStream> write)
    {
        using var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        write(output);
        output.Flush();
        return ByteString.CopyFrom(stream.ToArray());
    }
}
