using Google.Protobuf;
using Onnx;

namespace SlmStudio.Core.Export;

/// <summary>
/// Writes an ONNX model file. A protobuf message cannot exceed 2 GB, so when the weights are larger than
/// <see cref="DefaultExternalDataThreshold"/> every large initializer goes to one external data file beside the model
/// (<c>model.onnx.data</c>, the ONNX external-data convention with location/offset/length, 64-byte aligned offsets),
/// which ONNX Runtime and onnxruntime-genai read from the model's folder.
/// </summary>
public static class OnnxModelWriter
{
    /// <summary>Weights above this size go to external data (leaves head room under protobuf's 2 GB message limit).</summary>
    public const long DefaultExternalDataThreshold = 1L << 30;

    /// <summary>An external data file larger than this is refused: no runtime we target is tested with it.</summary>
    public const long MaxExternalDataBytes = 64L << 30;

    /// <summary>Writes <paramref name="model"/> to <paramref name="onnxPath"/>; returns the file names written (relative).</summary>
    public static IReadOnlyList<string> Write(ModelProto model, string onnxPath, long externalDataThreshold = DefaultExternalDataThreshold)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(onnxPath))!;
        var dataName = Path.GetFileName(onnxPath) + ".data";
        var dataPath = Path.Combine(directory, dataName);
        // Quantised weights (uint8 codes) count and move like float weights.
        var floatInits = model.Graph.Initializer.Where(t => t.DataType is OnnxType.Float or OnnxType.Uint8).ToList();
        long totalBytes = floatInits.Sum(t => (long)t.RawData.Length);
        if (totalBytes <= externalDataThreshold)
        {
            if (File.Exists(dataPath)) File.Delete(dataPath);
            AtomicFile.Write(onnxPath, temp =>
            {
                using var stream = File.Create(temp);
                model.WriteTo(stream);
            });
            return [Path.GetFileName(onnxPath)];
        }
        if (totalBytes > MaxExternalDataBytes)
            throw new EngineException($"The model's weights take {totalBytes / (1L << 30)} GB, more than the {MaxExternalDataBytes >> 30} GB this exporter writes; use a smaller model.");

        // Move every initializer of 1 KB or more out of the protobuf; small constants stay inline.
        AtomicFile.Write(dataPath, temp =>
        {
            using var data = File.Create(temp);
            foreach (var t in floatInits.Where(t => t.RawData.Length >= 1024))
            {
                var pad = (64 - data.Position % 64) % 64;
                for (int i = 0; i < pad; i++) data.WriteByte(0);
                long offset = data.Position;
                t.RawData.WriteTo(data);
                t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = dataName });
                t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = t.RawData.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                t.DataLocation = TensorProto.Types.DataLocation.External;
                t.RawData = ByteString.Empty;
            }
        });
        AtomicFile.Write(onnxPath, temp =>
        {
            using var stream = File.Create(temp);
            model.WriteTo(stream);
        });
        return [Path.GetFileName(onnxPath), dataName];
    }
}
