using System.Buffers.Binary;
using System.Text.Json;

namespace SlmStudio.Core.Models;

/// <summary>One tensor of a safetensors file, converted to float32 (row-major).</summary>
public sealed record NamedTensor(string Name, long[] Shape, float[] Data)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// Reads and writes the safetensors format (8-byte little-endian header length, JSON header, raw data) without
/// TorchSharp, validating every offset so that a truncated or corrupt file gets a clear error instead of garbage.
/// </summary>
public static class SafetensorsFile
{
    private const long MaxHeaderBytes = 100_000_000;

    public static IReadOnlyDictionary<string, NamedTensor> Read(string path) => ReadWithMetadata(path).Tensors;

    public static (IReadOnlyDictionary<string, NamedTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) ReadWithMetadata(string path)
    {
        var header = ReadHeader(path);
        var result = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        using var stream = File.OpenRead(path);
        foreach (var entry in header.Entries) result[entry.Name] = ReadTensor(stream, header, entry);
        return (result, header.Metadata);
    }

    /// <summary>
    /// The tensor directory of a safetensors file (names, data types, shapes, where each lies), validated against the
    /// file's length, without reading any tensor data: enough to check a checkpoint before loading anything.
    /// </summary>
    public static SafetensorsHeader ReadHeader(string path)
    {
        if (!File.Exists(path)) throw new InvalidModelFileException($"The weights file {path} does not exist.");
        using var stream = File.OpenRead(path);
        var lengthBytes = new byte[8];
        if (stream.Length < 8 || stream.ReadAtLeast(lengthBytes, 8, throwOnEndOfStream: false) < 8)
            throw new InvalidModelFileException($"{Path.GetFileName(path)} is too short to be a safetensors file; the file is damaged or incomplete.");
        var headerLength = BinaryPrimitives.ReadInt64LittleEndian(lengthBytes);
        if (headerLength <= 0 || headerLength > MaxHeaderBytes || 8 + headerLength > stream.Length)
            throw new InvalidModelFileException($"{Path.GetFileName(path)} has an invalid header; it is not a safetensors file or it is damaged.");
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(header); }
        catch (JsonException) { throw new InvalidModelFileException($"{Path.GetFileName(path)} has a damaged header; export or download the model again."); }

        var dataStart = 8 + headerLength;
        var dataLength = stream.Length - dataStart;
        var entries = new List<SafetensorsEntry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidModelFileException($"{Path.GetFileName(path)} has a damaged header; export or download the model again.");
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__")
                {
                    foreach (var m in entry.Value.EnumerateObject()) metadata[m.Name] = m.Value.GetString() ?? "";
                    continue;
                }
                var dtype = entry.Value.GetProperty("dtype").GetString()!;
                var shape = entry.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                var offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                var count = shape.Aggregate(1L, (a, b) => a * b);
                int elementSize = dtype switch { "F32" => 4, "F16" or "BF16" => 2, "F64" => 8, _ => throw new UnsupportedModelException($"Tensor '{entry.Name}' has data type {dtype}; only F32, F16, BF16 and F64 weights are supported.") };
                if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] > dataLength || offsets[1] - offsets[0] != count * elementSize)
                    throw new InvalidModelFileException($"{Path.GetFileName(path)} is damaged or truncated: tensor '{entry.Name}' lies outside the file.");
                entries.Add(new SafetensorsEntry(entry.Name, dtype, shape, offsets[0], offsets[1]));
            }
        }
        return new SafetensorsHeader(path, dataStart, entries, metadata);
    }

    /// <summary>Reads one tensor as float32; only this tensor's bytes are in memory besides the result.</summary>
    public static NamedTensor ReadTensor(Stream stream, SafetensorsHeader header, SafetensorsEntry entry)
    {
        var raw = new byte[entry.End - entry.Start];
        stream.Position = header.DataStart + entry.Start;
        stream.ReadExactly(raw);
        return new NamedTensor(entry.Name, entry.Shape, ToFloat32(raw, entry.DType, entry.Shape.Aggregate(1L, (a, b) => a * b)));
    }

    private static float[] ToFloat32(byte[] raw, string dtype, long count)
    {
        var values = new float[count];
        switch (dtype)
        {
            case "F32": Buffer.BlockCopy(raw, 0, values, 0, raw.Length); break;
            case "F64": for (long i = 0; i < count; i++) values[i] = (float)BitConverter.ToDouble(raw, (int)(i * 8)); break;
            case "F16": for (long i = 0; i < count; i++) values[i] = (float)BitConverter.ToHalf(raw, (int)(i * 2)); break;
            // bfloat16 is the top half of a float32's bits.
            case "BF16": for (long i = 0; i < count; i++) values[i] = BitConverter.Int32BitsToSingle(BitConverter.ToUInt16(raw, (int)(i * 2)) << 16); break;
        }
        return values;
    }

    /// <summary>Writes float32 tensors in a fixed (sorted) order, atomically.</summary>
    public static void Write(string path, IEnumerable<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var ordered = tensors.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        var header = new Dictionary<string, object>();
        if (metadata is not null) header["__metadata__"] = metadata;
        long offset = 0;
        foreach (var t in ordered)
        {
            var bytes = t.ElementCount * 4;
            header[t.Name] = new { dtype = "F32", shape = t.Shape, data_offsets = new[] { offset, offset + bytes } };
            offset += bytes;
        }
        var headerBytes = JsonSerializer.SerializeToUtf8Bytes(header);
        var padded = (headerBytes.Length + 7) / 8 * 8; // 8-byte alignment of the data, as the reference writer does
        AtomicFile.Write(path, temp =>
        {
            using var stream = File.Create(temp);
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(len, padded);
            stream.Write(len);
            stream.Write(headerBytes);
            for (int i = headerBytes.Length; i < padded; i++) stream.WriteByte((byte)' ');
            foreach (var t in ordered)
            {
                var bytes = new byte[t.Data.Length * 4];
                Buffer.BlockCopy(t.Data, 0, bytes, 0, bytes.Length);
                stream.Write(bytes);
            }
        });
    }
}

/// <summary>One tensor's entry in a safetensors header: data type, shape and byte range within the data section.</summary>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Start, long End);

/// <summary>A safetensors file's tensor directory (see <see cref="SafetensorsFile.ReadHeader"/>).</summary>
public sealed record SafetensorsHeader(string Path, long DataStart, IReadOnlyList<SafetensorsEntry> Entries, IReadOnlyDictionary<string, string> Metadata);

/// <summary>A model or checkpoint file that is missing, truncated, damaged or tampered with.</summary>
public sealed class InvalidModelFileException(string message, Exception? inner = null) : EngineException(message, inner);
