using P2PSwarm.Inference.Tokenization;

namespace P2PSwarm.Inference.Checkpoints;

/// <summary>
/// What <c>p2pswarm model inspect</c> reports: the model id, config shapes, and weight bytes at their stored dtype
/// per decoder block, for the client head, and in total (the numbers a server needs to pick a span that fits).
/// </summary>
public sealed record CheckpointSummary(
    ModelId Id,
    LlamaConfig Config,
    IReadOnlyList<TensorDtype> Dtypes,
    IReadOnlyList<long> BlockBytes,
    long HeadBytes,
    long TotalBytes,
    int FileCount,
    TokenizerKind? Tokenizer)
{
    public static CheckpointSummary Describe(Checkpoint checkpoint, ModelId id)
    {
        var config = checkpoint.Config;
        long Bytes(IEnumerable<ExpectedTensor> tensors) => tensors.Sum(t => checkpoint.GetEntry(t.Name).ByteLength);
        var blocks = Enumerable.Range(0, config.NumHiddenLayers).Select(layer => Bytes(LlamaTensorNames.Block(config, layer))).ToList();
        var dtypes = checkpoint.TensorNames.Select(name => checkpoint.GetEntry(name).Dtype).Distinct().Order().ToList();
        return new CheckpointSummary(
            id,
            config,
            dtypes,
            blocks,
            Bytes(LlamaTensorNames.Head(config)),
            checkpoint.TensorNames.Sum(name => checkpoint.GetEntry(name).ByteLength),
            checkpoint.Files.Count,
            TokenizerLoader.Detect(checkpoint.Directory));
    }
}
