using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace SlmStudio.Core.Training;

/// <summary>
/// A temporary folder for one benchmark run (models and exports of many gigabytes), named "{prefix}{random}" in the
/// system's temporary folder and marked with the id and start time of the process that owns it. Disposing deletes it,
/// which covers a normal end and Ctrl+C (the command line cancels and waits); a process killed outright (the
/// out-of-memory killer) cannot clean up, so every new run first deletes the folders of its kind whose owner is gone.
/// </summary>
public sealed class BenchmarkWorkFolder : IDisposable
{
    public const string MarkerFile = "slm-bench-owner.json";
    /// <summary>A folder without a marker (made by an older version, or a new one not yet marked) counts as stale only when untouched this long.</summary>
    public static readonly TimeSpan UnmarkedGrace = TimeSpan.FromHours(1);

    public string Path { get; }

    private BenchmarkWorkFolder(string path) => Path = path;

    /// <summary>Deletes stale folders of <paramref name="prefix"/>, then creates and marks a new one.</summary>
    public static BenchmarkWorkFolder Create(string prefix, IProgress<string>? progress = null)
    {
        foreach (var (stale, bytes) in DeleteStale(System.IO.Path.GetTempPath(), prefix, TimeProvider.System))
            progress?.Report(string.Create(CultureInfo.InvariantCulture, $"Deleted {stale} ({bytes / 1e9:N1} GB), left behind by an earlier benchmark that was stopped before it could clean up."));
        var path = Directory.CreateTempSubdirectory(prefix).FullName;
        using var self = Process.GetCurrentProcess();
        File.WriteAllText(System.IO.Path.Combine(path, MarkerFile), JsonSerializer.Serialize(new Owner(self.Id, StartTicks(self))));
        return new BenchmarkWorkFolder(path);
    }

    /// <summary>
    /// Deletes the folders named "{prefix}…" in <paramref name="tempRoot"/> whose owning process no longer runs (or whose id
    /// now belongs to a process started at another time), and unmarked ones untouched for <see cref="UnmarkedGrace"/>.
    /// Returns what was deleted with its size.
    /// </summary>
    public static IReadOnlyList<(string Path, long Bytes)> DeleteStale(string tempRoot, string prefix, TimeProvider clock)
    {
        var deleted = new List<(string, long)>();
        if (!Directory.Exists(tempRoot)) return deleted;
        foreach (var dir in Directory.EnumerateDirectories(tempRoot, prefix + "*"))
        {
            if (!IsStale(dir, clock)) continue;
            var bytes = SizeOf(dir);
            try
            {
                Directory.Delete(dir, recursive: true);
                deleted.Add((dir, bytes));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another user's folder, or one being deleted by someone else: not ours to force.
            }
        }
        return deleted;
    }

    private static bool IsStale(string dir, TimeProvider clock)
    {
        var marker = System.IO.Path.Combine(dir, MarkerFile);
        Owner? owner = null;
        try { owner = File.Exists(marker) ? JsonSerializer.Deserialize<Owner>(File.ReadAllText(marker)) : null; }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException) { }
        if (owner is null)
            return clock.GetUtcNow().UtcDateTime - Directory.GetLastWriteTimeUtc(dir) > UnmarkedGrace;
        return !IsRunning(owner);
    }

    private static bool IsRunning(Owner owner)
    {
        try
        {
            using var process = Process.GetProcessById(owner.ProcessId);
            // The start time is derived from the boot time on Linux, which may be computed a little differently each time.
            return !process.HasExited && Math.Abs(StartTicks(process) - owner.StartedTicks) < TimeSpan.FromSeconds(5).Ticks;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return false; // no process with that id
        }
    }

    private static long StartTicks(Process process)
    {
        try { return process.StartTime.ToUniversalTime().Ticks; }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception) { return 0; }
    }

    private static long SizeOf(string dir)
    {
        try { return new DirectoryInfo(dir).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return 0; }
    }

    public void Dispose()
    {
        try { if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>The marker's content: the process id and its start time (ids are reused; the pair is not).</summary>
    public sealed record Owner(int ProcessId, long StartedTicks);
}
