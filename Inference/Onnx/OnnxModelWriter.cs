using System.Globalization;
using System.Runtime.InteropServices;
using Google.Protobuf;
using P2PSwarm.Inference.Onnx.Proto;

namespace P2PSwarm.Inference.Onnx;

/// <summary>
/// Accumulates one ONNX graph and writes it as <c>model.onnx</c> plus one external-data file. Initializers of
/// <see cref="ExternalThresholdBytes"/> or more go to the data file at 4096-aligned offsets (mmap-friendly, and
/// the only way past protobuf's 2 GB message limit); smaller ones stay inline as raw_data.
/// </summary>
internal sealed class OnnxModelWriter : IDisposable
{
    public const int ExternalThresholdBytes = 1024;
    private const int Alignment = 4096;

    private readonly GraphProto _graph = new();
    private readonly FileStream _data;
    private readonly string _dataFileName;
    private readonly string _modelPath;
    private bool _disposed;

    public OnnxModelWriter(string modelPath, string graphName)
    {
        _modelPath = modelPath;
        _dataFileName = Path.GetFileName(modelPath) + ".data";
        var directory = Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        _data = new FileStream(Path.Combine(directory, _dataFileName), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        _graph.Name = graphName;
    }

    public void AddInitializer<T>(string name, TensorProto.Types.DataType type, long[] dims, ReadOnlySpan<T> values)
        where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(values);
        var tensor = new TensorProto { Name = name, DataType = (int)type };
        tensor.Dims.AddRange(dims);
        if (bytes.Length < ExternalThresholdBytes)
        {
            tensor.RawData = ByteString.CopyFrom(bytes);
        }
        else
        {
            var offset = AlignDataFile();
            _data.Write(bytes);
            tensor.DataLocation = TensorProto.Types.DataLocation.External;
            tensor.ExternalData.Add(Entry("location", _dataFileName));
            tensor.ExternalData.Add(Entry("offset", offset.ToString(CultureInfo.InvariantCulture)));
            tensor.ExternalData.Add(Entry("length", bytes.Length.ToString(CultureInfo.InvariantCulture)));
        }
        _graph.Initializer.Add(tensor);
    }

    public void AddNode(string opType, string domain, string name, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Domain = domain, Name = name };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
    }

    public void AddInput(string name, TensorProto.Types.DataType type, params object[] dims) => _graph.Input.Add(ValueInfo(name, type, dims));

    public void AddOutput(string name, TensorProto.Types.DataType type, params object[] dims) => _graph.Output.Add(ValueInfo(name, type, dims));

    /// <summary>Writes model.onnx (graph, opsets, metadata) and flushes the data file to disk.</summary>
    public void Save(IReadOnlyDictionary<string, string> metadata)
    {
        var model = new ModelProto
        {
            IrVersion = 10,
            ProducerName = "p2pswarm",
            Graph = _graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 21 });
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        foreach (var (key, value) in metadata)
        {
            model.MetadataProps.Add(Entry(key, value));
        }
        _data.Flush(flushToDisk: true);
        using var file = new FileStream(_modelPath, FileMode.CreateNew, FileAccess.Write);
        model.WriteTo(file);
        file.Flush(flushToDisk: true);
    }

    public static AttributeProto Attribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Attribute(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    private long AlignDataFile()
    {
        var position = _data.Position;
        var aligned = (position + Alignment - 1) / Alignment * Alignment;
        if (aligned != position)
        {
            Span<byte> zeros = stackalloc byte[Alignment];
            zeros.Clear();
            _data.Write(zeros[..(int)(aligned - position)]);
        }
        return aligned;
    }

    private static StringStringEntryProto Entry(string key, string value) => new() { Key = key, Value = value };

    private static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
        {
            shape.Dim.Add(dim switch
            {
                string symbolic => new TensorShapeProto.Types.Dimension { DimParam = symbolic },
                int size => new TensorShapeProto.Types.Dimension { DimValue = size },
                _ => throw new ArgumentException($"Dimension {dim} of {name} is neither a name nor an int.", nameof(dims)),
            });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _data.Dispose();
    }
}
