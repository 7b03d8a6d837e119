namespace SlmStudio.Core;

/// <summary>
/// An exclusive lock on a file that the operating system holds for this process and drops when the process ends, however
/// it ends (kill -9 included), so a lock can never be left behind by a dead holder. It is the file opened with
/// <see cref="FileShare.None"/>: on Linux and macOS .NET takes <c>flock(LOCK_EX)</c> on it, on Windows a sharing lock.
/// Two opens conflict even inside one process, so it also separates two portals hosted by the same process (tests).
/// </summary>
public sealed class ExclusiveFileLock : IDisposable
{
    private readonly FileStream _stream;

    private ExclusiveFileLock(string path, FileStream stream)
    {
        Path = path;
        _stream = stream;
    }

    public string Path { get; }

    /// <summary>Takes the lock, creating the file (and its folder) when needed; null when another holder has it.</summary>
    public static ExclusiveFileLock? TryAcquire(string path)
    {
        System.IO.Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        try
        {
            return new ExclusiveFileLock(path, new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException e) when (IsHeldElsewhere(e))
        {
            return null;
        }
    }

    /// <summary>True while some process (this one included) holds the lock. Takes and drops it when nobody does.</summary>
    public static bool IsHeld(string path)
    {
        if (!File.Exists(path)) return false;
        try
        {
            // FileMode.Open: probing must not create lock files in folders that never had a holder.
            using var probe = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.None);
            return false;
        }
        catch (FileNotFoundException) { return false; }
        catch (IOException e) when (IsHeldElsewhere(e)) { return true; }
    }

    /// <summary>A lock conflict, as opposed to a missing folder or a failing disk (which must not read as "busy").</summary>
    private static bool IsHeldElsewhere(IOException e) =>
        e is not (FileNotFoundException or DirectoryNotFoundException or PathTooLongException or EndOfStreamException);

    public void Dispose() => _stream.Dispose();
}
