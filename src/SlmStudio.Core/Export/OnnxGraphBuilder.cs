using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace SlmStudio.Core.Export;

/// <summary>ONNX element types (TensorProto.DataType) that the exporter uses.</summary>
internal static class OnnxType
{
    public const int Float = 1;
    public const int Uint8 = 2;
    public const int Int32 = 6;
    public const int Int64 = 7;
    public const int Bool = 9;
    public const int Double = 11;
}

/// <summary>
/// Thin helper over OnnxSharp's generated protobuf classes: adds nodes with unique names, typed initializers and
/// graph inputs/outputs with named (dynamic) or fixed dimensions. It knows nothing about the model.
/// </summary>
internal sealed class OnnxGraphBuilder(string graphName)
{
    private readonly Dictionary<string, int> _nameCounts = new(StringComparer.Ordinal);

    public GraphProto Graph { get; } = new() { Name = graphName };

    /// <summary>Float initializers in the order they were added, so the exporter can move large ones to external data.</summary>
    public List<TensorProto> FloatInitializers { get; } = [];

    private string Unique(string stem)
    {
        var n = _nameCounts.TryGetValue(stem, out var c) ? c + 1 : 0;
        _nameCounts[stem] = n;
        return n == 0 ? stem : $"{stem}_{n}";
    }

    /// <summary>Adds one node with a single output, named after <paramref name="name"/>; returns the output name.</summary>
    public string Node(string opType, string name, IEnumerable<string> inputs, params AttributeProto[] attributes) =>
        NodeMulti(opType, name, inputs, 1, attributes)[0];

    public string[] NodeMulti(string opType, string name, IEnumerable<string> inputs, int outputCount, params AttributeProto[] attributes)
    {
        var nodeName = Unique(name);
        var node = new NodeProto { OpType = opType, Name = nodeName };
        node.Input.AddRange(inputs);
        var outputs = Enumerable.Range(0, outputCount).Select(i => outputCount == 1 ? nodeName : $"{nodeName}:{i}").ToArray();
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return outputs;
    }

    /// <summary>
    /// Adds a node of ONNX Runtime's contrib domain (<see cref="MicrosoftDomain"/>), such as MatMulNBits; the model must
    /// then import that domain (see <see cref="UsesMicrosoftDomain"/>). With <paramref name="namedOutput"/>, <paramref name="name"/> is the output's fixed name.
    /// </summary>
    public string MicrosoftNode(string opType, string name, IEnumerable<string> inputs, bool namedOutput, params AttributeProto[] attributes)
    {
        var output = namedOutput ? NodeNamed(opType, name, inputs, attributes) : Node(opType, name, inputs, attributes);
        Graph.Node[^1].Domain = MicrosoftDomain;
        UsesMicrosoftDomain = true;
        return output;
    }

    public const string MicrosoftDomain = "com.microsoft";

    /// <summary>Whether a node of <see cref="MicrosoftDomain"/> was added.</summary>
    public bool UsesMicrosoftDomain { get; private set; }

    /// <summary>Adds a node whose single output has a fixed name (graph outputs such as "logits").</summary>
    public string NodeNamed(string opType, string outputName, IEnumerable<string> inputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = Unique(outputName + "/" + opType) };
        node.Input.AddRange(inputs);
        node.Output.Add(outputName);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return outputName;
    }

    public string FloatTensor(string name, ReadOnlySpan<float> data, params long[] dims)
    {
        if ((long)data.Length * sizeof(float) > int.MaxValue)
            throw new EngineException($"The weight '{name}' alone is larger than 2 GB, which one ONNX tensor cannot hold; this exporter does not split tensors, so the model cannot be exported.");
        var t = new TensorProto { Name = name, DataType = OnnxType.Float, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(data)) };
        t.Dims.AddRange(dims);
        Graph.Initializer.Add(t);
        FloatInitializers.Add(t);
        return name;
    }

    public string Uint8Tensor(string name, byte[] data, params long[] dims)
    {
        if (data.LongLength > int.MaxValue)
            throw new EngineException($"The weight '{name}' alone is larger than 2 GB, which one ONNX tensor cannot hold; this exporter does not split tensors, so the model cannot be exported.");
        var t = new TensorProto { Name = name, DataType = OnnxType.Uint8, RawData = ByteString.CopyFrom(data) };
        t.Dims.AddRange(dims);
        Graph.Initializer.Add(t);
        return name;
    }

    public string DoubleTensor(string name, double[] data, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = OnnxType.Double, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(data.AsSpan())) };
        t.Dims.AddRange(dims);
        Graph.Initializer.Add(t);
        return name;
    }

    public string Int64Tensor(string name, params long[] values)
    {
        var t = new TensorProto { Name = Unique(name), DataType = OnnxType.Int64, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())) };
        t.Dims.Add(values.Length);
        Graph.Initializer.Add(t);
        return t.Name;
    }

    public string Int64Scalar(string name, long value)
    {
        var t = new TensorProto { Name = Unique(name), DataType = OnnxType.Int64, RawData = ByteString.CopyFrom(BitConverter.GetBytes(value)) };
        Graph.Initializer.Add(t);
        return t.Name;
    }

    public string FloatScalar(string name, float value)
    {
        var t = new TensorProto { Name = Unique(name), DataType = OnnxType.Float, RawData = ByteString.CopyFrom(BitConverter.GetBytes(value)) };
        Graph.Initializer.Add(t);
        return t.Name;
    }

    /// <summary>A graph input or output; each dimension is a fixed size (long/int) or a symbolic name (string).</summary>
    public static ValueInfoProto Value(string name, int elemType, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            shape.Dim.Add(d switch
            {
                string s => new TensorShapeProto.Types.Dimension { DimParam = s },
                int i => new TensorShapeProto.Types.Dimension { DimValue = i },
                long l => new TensorShapeProto.Types.Dimension { DimValue = l },
                _ => throw new ArgumentException($"Bad dimension {d}"),
            });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elemType, Shape = shape } },
        };
    }

    public void Input(string name, int elemType, params object[] dims) => Graph.Input.Add(Value(name, elemType, dims));

    public void Output(string name, int elemType, params object[] dims) => Graph.Output.Add(Value(name, elemType, dims));

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };
}
