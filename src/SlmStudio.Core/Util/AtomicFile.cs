using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("SlmStudio.Core.Tests")]

namespace SlmStudio.Core;

/// <summary>Writes files so that a crash leaves either the old file or the new one, never half of one.</summary>
public static class AtomicFile
{
    private static readonly AsyncLocal<Func<string, Exception?>?> InjectedFault = new();

    public static void WriteAllText(string path, string contents) => Write(path, temp => File.WriteAllText(temp, contents));

    public static void WriteAllBytes(string path, byte[] contents) => Write(path, temp => File.WriteAllBytes(temp, contents));

    /// <summary>
    /// Lets <paramref name="writeTemp"/> write a temporary file beside <paramref name="path"/>, flushes it to the disk,
    /// then renames it into place. Without the flush, a power cut soon after the rename can leave the new name
    /// pointing at data the disk never received, losing the old file and the new one together.
    /// </summary>
    public static void Write(string path, Action<string> writeTemp)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temp = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            writeTemp(temp);
            FlushToDisk(temp, path);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    private static void FlushToDisk(string temp, string target)
    {
        if (InjectedFault.Value?.Invoke(target) is { } fault) throw fault;
        using var stream = new FileStream(temp, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        stream.Flush(flushToDisk: true); // fsync: the data reaches the disk before the rename makes it the file
    }

    /// <summary>
    /// For tests: on this async flow, until disposed, a write whose target <paramref name="fault"/> returns an exception
    /// for fails with it after its temporary file was written, where a full or failing disk fails the flush.
    /// </summary>
    internal static IDisposable InjectFault(Func<string, Exception?> fault)
    {
        var previous = InjectedFault.Value;
        InjectedFault.Value = fault;
        return new Restore(() => InjectedFault.Value = previous);
    }

    private sealed class Restore(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }
}
