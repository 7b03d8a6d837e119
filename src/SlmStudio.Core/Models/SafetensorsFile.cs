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
                    if (entry.Value.ValueKind != JsonValueKind.Object || entry.Value.EnumerateObject().Any(m => m.Value.ValueKind != JsonValueKind.String))
                        throw new InvalidModelFileException($"{Path.GetFileName(path)} has a damaged header: its metadata is not a list of texts.");
                    foreach (var m in entry.Value.EnumerateObject()) metadata[m.Name] = m.Value.GetString() ?? "";
                    continue;
                }
                entries.Add(ParseEntry(Path.GetFileName(path), entry, dataLength));
            }
        }
        CheckNoOverlap(Path.GetFileName(path), entries);
        return new SafetensorsHeader(path, dataStart, entries, metadata);
    }

    /// <summary>
    /// One tensor's entry, checked so that no header can make the reader overflow, allocate more than the file holds,
    /// or read outside the file: whole non-negative sizes, a byte count computed with checked arithmetic that equals
    /// the range it claims, and a range inside the data section.
    /// </summary>
    private static SafetensorsEntry ParseEntry(string file, JsonProperty entry, long dataLength)
    {
        var damaged = $"{file} is damaged: the header entry of tensor '{entry.Name}' is not valid";
        if (entry.Value.ValueKind != JsonValueKind.Object
            || !entry.Value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String
            || !entry.Value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array
            || !entry.Value.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array)
            throw new InvalidModelFileException($"{damaged} (it needs dtype, shape and data_offsets).");
        var dtype = dtypeElement.GetString()!;
        int elementSize = dtype switch { "F32" => 4, "F16" or "BF16" => 2, "F64" => 8, _ => throw new UnsupportedModelException($"Tensor '{entry.Name}' has data type {dtype}; only F32, F16, BF16 and F64 weights are supported.") };
        var shape = new List<long>();
        foreach (var d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var size)) throw new InvalidModelFileException($"{damaged} (its shape holds '{d}', not a whole number).");
            if (size < 0) throw new InvalidModelFileException($"{file} is damaged: tensor '{entry.Name}' has the negative size {size} in its shape [{string.Join(", ", shapeElement.EnumerateArray())}].");
            shape.Add(size);
        }
        var offsets = new List<long>();
        foreach (var o in offsetsElement.EnumerateArray())
        {
            if (o.ValueKind != JsonValueKind.Number || !o.TryGetInt64(out var offset)) throw new InvalidModelFileException($"{damaged} (its data_offsets hold '{o}', not a whole number).");
            offsets.Add(offset);
        }
        long count, bytes;
        try
        {
            count = shape.Aggregate(1L, (a, b) => checked(a * b));
            bytes = checked(count * elementSize);
        }
        catch (OverflowException)
        {
            throw new InvalidModelFileException($"{file} is damaged: tensor '{entry.Name}' has the shape [{string.Join(", ", shape)}], whose size is larger than any file can hold.");
        }
        if (offsets.Count != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || offsets[1] > dataLength || offsets[1] - offsets[0] != bytes)
            throw new InvalidModelFileException($"{file} is damaged or truncated: tensor '{entry.Name}' lies outside the file.");
        if (bytes > Array.MaxLength)
            throw new UnsupportedModelException($"Tensor '{entry.Name}' in {file} is {bytes:N0} bytes; this engine reads tensors of up to {Array.MaxLength:N0} bytes.");
        return new SafetensorsEntry(entry.Name, dtype, shape.ToArray(), offsets[0], offsets[1]);
    }

    /// <summary>Each tensor owns its bytes: two entries sharing a range are a damaged or forged file, not two weights.</summary>
    private static void CheckNoOverlap(string file, List<SafetensorsEntry> entries)
    {
        SafetensorsEntry? previous = null;
        foreach (var entry in entries.Where(e => e.End > e.Start).OrderBy(e => e.Start))
        {
            if (previous is not null && entry.Start < previous.End)
                throw new InvalidModelFileException($"{file} is damaged: tensors '{previous.Name}' and '{entry.Name}' claim the same bytes ({entry.Start:N0} to {Math.Min(entry.End, previous.End):N0}). Export or download the model again.");
            if (previous is null || entry.End > previous.End) previous = entry;
        }
    }

    /// <summary>Reads one tensor as float32; only this tensor's bytes are in memory besides the result.</summary>
    public static NamedTensor ReadTensor(Stream stream, SafetensorsHeader header, SafetensorsEntry entry)
    {
        var raw = new byte[entry.End - entry.Start];
        stream.Position = header.DataStart + entry.Start;
        stream.ReadExactly(raw);
        return new NamedTensor(entry.Name, entry.Shape, ToFloat32(raw, entry.DType, entry.ElementCount));
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
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Start, long End)
{
    /// <summary>Values in the tensor; <see cref="SafetensorsFile.ReadHeader"/> has checked that this cannot overflow.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>A safetensors file's tensor directory (see <see cref="SafetensorsFile.ReadHeader"/>).</summary>
public sealed record SafetensorsHeader(string Path, long DataStart, IReadOnlyList<SafetensorsEntry> Entries, IReadOnlyDictionary<string, string> Metadata);

/// <summary>A model or checkpoint file that is missing, truncated, damaged or tampered with.</summary>
public sealed class InvalidModelFileException(string message, Exception? inner = null) : EngineException(message, inner);
