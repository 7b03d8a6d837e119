using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace SlmStudio.Core.Training;

/// <summary>
/// Token ids on disk as a flat array of uint16 (vocabularies up to 65,536) or uint32, memory-mapped for reading,
/// like nanoGPT's train.bin: a corpus larger than memory still trains.
/// </summary>
public sealed class TokenBin : IDisposable
{
    private readonly MemoryMappedFile? _file;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly int _width;

    public long Count { get; }

    private TokenBin(string path, int width)
    {
        _width = width;
        var length = new FileInfo(path).Length;
        if (length % width != 0) throw new EngineException($"The token file {Path.GetFileName(path)} is damaged (its size is not a whole number of tokens). Start a new run.");
        Count = length / width;
        if (length == 0) return;
        _file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        _view = _file.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
    }

    public static int WidthFor(int vocabSize) => vocabSize <= ushort.MaxValue + 1 ? 2 : 4;

    public static TokenBin Open(string path, int vocabSize) => new(path, WidthFor(vocabSize));

    public static void Write(string path, IEnumerable<int> ids, int vocabSize)
    {
        var width = WidthFor(vocabSize);
        AtomicFile.Write(path, temp =>
        {
            using var stream = new BufferedStream(File.Create(temp), 1 << 20);
            Span<byte> buffer = stackalloc byte[4];
            foreach (var id in ids)
            {
                if ((uint)id >= (uint)vocabSize) throw new InvalidOperationException($"Token id {id} is outside the vocabulary of {vocabSize}.");
                if (width == 2) MemoryMarshal.Write(buffer, (ushort)id); else MemoryMarshal.Write(buffer, id);
                stream.Write(buffer[..width]);
            }
        });
    }

    /// <summary>Copies <paramref name="destination"/>.Length ids starting at <paramref name="start"/>.</summary>
    public void Read(long start, Span<long> destination)
    {
        if (start < 0 || start + destination.Length > Count) throw new ArgumentOutOfRangeException(nameof(start));
        for (int i = 0; i < destination.Length; i++)
            destination[i] = _width == 2 ? _view!.ReadUInt16((start + i) * 2) : _view!.ReadUInt32((start + i) * 4);
    }

    public void Dispose()
    {
        _view?.Dispose();
        _file?.Dispose();
    }
}
