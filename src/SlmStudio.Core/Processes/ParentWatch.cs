namespace SlmStudio.Core.Processes;

/// <summary>
/// How an engine child notices that the process that started it is gone: its standard input is a pipe the parent holds
/// open and never writes to (see <see cref="SlmLauncher.StopWithParentOption"/>). The operating system closes the
/// parent's end when the parent ends, however it ends, and the child's read then returns end-of-file. Unlike polling
/// a parent process id, this needs no timer and cannot be fooled by a reused process id.
/// </summary>
public static class ParentWatch
{
    /// <summary>A token that fires once standard input has ended (at once when it is already closed or /dev/null).</summary>
    public static CancellationToken WhenStandardInputCloses() => WhenClosed(Console.OpenStandardInput());

    /// <summary>A token that fires once <paramref name="input"/> has ended or fails; the stream is read on a background thread.</summary>
    public static CancellationToken WhenClosed(Stream input)
    {
        var closed = new CancellationTokenSource();
        var reader = new Thread(() =>
        {
            try
            {
                var buffer = new byte[64];
                while (input.Read(buffer, 0, buffer.Length) > 0) { } // the parent writes nothing; anything it does write is ignored
            }
            catch (IOException) { }
            catch (ObjectDisposedException) { }
            finally { input.Dispose(); }
            closed.Cancel();
        })
        {
            IsBackground = true, // never keeps the process alive
            Name = "parent watch",
        };
        reader.Start();
        return closed.Token;
    }
}
