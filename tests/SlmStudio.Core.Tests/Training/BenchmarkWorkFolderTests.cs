using System.Diagnostics;
using System.Text.Json;
using SlmStudio.Core.Training;

namespace SlmStudio.Core.Tests.Training;

/// <summary>
/// A benchmark killed outright (the out-of-memory killer) leaves gigabytes in the temporary folder: the next run deletes
/// the folders whose owning process is gone, and never one whose owner still runs. No benchmark is run here.
/// </summary>
public sealed class BenchmarkWorkFolderTests : IDisposable
{
    private const string Prefix = "slm-bench-test-";
    private readonly string _root = Directory.CreateTempSubdirectory("slm-benchfolder-tests-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>The moment the tests pretend it is: folder ages are set against it, so the machine's clock plays no part.</summary>
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private sealed class FixedClock : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private string Folder(string name, BenchmarkWorkFolder.Owner? owner, TimeSpan? age = null)
    {
        var dir = Path.Combine(_root, name);
        Directory.CreateDirectory(Path.Combine(dir, "model"));
        File.WriteAllBytes(Path.Combine(dir, "model", "weights.bin"), new byte[4096]);
        if (owner is not null) File.WriteAllText(Path.Combine(dir, BenchmarkWorkFolder.MarkerFile), JsonSerializer.Serialize(owner));
        Directory.SetLastWriteTimeUtc(dir, (Now - (age ?? TimeSpan.Zero)).UtcDateTime);
        return dir;
    }

    private static BenchmarkWorkFolder.Owner DeadOwner()
    {
        // As the out-of-memory killer would end it.
        using var finished = Process.Start(new ProcessStartInfo("sleep", "60") { UseShellExecute = false })!;
        var started = finished.StartTime.ToUniversalTime().Ticks;
        finished.Kill();
        finished.WaitForExit();
        return new BenchmarkWorkFolder.Owner(finished.Id, started);
    }

    private static BenchmarkWorkFolder.Owner Me()
    {
        using var me = Process.GetCurrentProcess();
        return new BenchmarkWorkFolder.Owner(me.Id, me.StartTime.ToUniversalTime().Ticks);
    }

    [Fact]
    public void Deletes_the_folders_of_dead_owners_and_old_unmarked_ones_and_keeps_the_rest()
    {
        var dead = Folder(Prefix + "dead", DeadOwner());
        var reusedId = Folder(Prefix + "reused", Me() with { StartedTicks = Me().StartedTicks - TimeSpan.FromDays(2).Ticks });
        var oldUnmarked = Folder(Prefix + "old", null, TimeSpan.FromHours(3));
        var running = Folder(Prefix + "running", Me());
        var freshUnmarked = Folder(Prefix + "fresh", null);
        var otherKind = Folder("slm-bench-other-dead", DeadOwner());

        var deleted = BenchmarkWorkFolder.DeleteStale(_root, Prefix, new FixedClock());

        Assert.Equal(new[] { dead, oldUnmarked, reusedId }.Order(), deleted.Select(d => d.Path).Order());
        Assert.All(deleted, d => Assert.True(d.Bytes >= 4096, $"{d.Path}: {d.Bytes} bytes")); // the weights and the marker
        Assert.False(Directory.Exists(dead));
        Assert.False(Directory.Exists(reusedId)); // the id now belongs to a process started at another time
        Assert.False(Directory.Exists(oldUnmarked));
        Assert.True(Directory.Exists(running));
        Assert.True(Directory.Exists(freshUnmarked)); // may be a new run that has not written its marker yet
        Assert.True(Directory.Exists(otherKind));
    }

    [Fact]
    public void A_new_folder_is_marked_as_this_process_s_and_deleted_on_dispose()
    {
        var prefix = $"slm-bench-test-{Guid.NewGuid():N}-";
        string path;
        using (var work = BenchmarkWorkFolder.Create(prefix))
        {
            path = work.Path;
            Assert.StartsWith(Path.Combine(Path.GetTempPath(), prefix), path, StringComparison.Ordinal);
            var owner = JsonSerializer.Deserialize<BenchmarkWorkFolder.Owner>(File.ReadAllText(Path.Combine(path, BenchmarkWorkFolder.MarkerFile)))!;
            Assert.Equal(Environment.ProcessId, owner.ProcessId);
            // Its own folder is never stale while this process runs.
            Assert.Empty(BenchmarkWorkFolder.DeleteStale(Path.GetTempPath(), prefix, TimeProvider.System));
            File.WriteAllText(Path.Combine(path, "big.bin"), "x");
        }
        Assert.False(Directory.Exists(path));
    }
}
