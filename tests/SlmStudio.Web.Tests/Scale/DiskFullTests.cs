using System.Diagnostics;
using System.Text.Json;
using SlmStudio.Core.Models;
using SlmStudio.Core.Training;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Options;
using SlmStudio.Web.Services;
using Xunit.Abstractions;

namespace SlmStudio.Web.Tests.Scale;

/// <summary>
/// A test that needs a size-limited folder: a tmpfs mounted for it, which takes root on Linux (CI runs as root).
/// Elsewhere it is reported as skipped, with the reason.
/// </summary>
public sealed class SizeLimitedFolderFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> Unavailable = new(Probe);

    public SizeLimitedFolderFactAttribute()
    {
        if (Unavailable.Value is { } reason) Skip = reason;
    }

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux()) return "A size-limited folder needs Linux (a tmpfs mount).";
        var probe = Directory.CreateTempSubdirectory("slm-tmpfs-probe").FullName;
        try
        {
            if (!SizeLimitedFolder.TryMount(probe, 1, out var error)) return $"Cannot mount a size-limited folder (tmpfs) here, which needs root: {error}";
            SizeLimitedFolder.Unmount(probe);
            return null;
        }
        finally { Directory.Delete(probe); }
    }
}

/// <summary>A tmpfs of a fixed size: a disk that really fills up, with the kernel's own "No space left on device".</summary>
public sealed class SizeLimitedFolder : IDisposable
{
    public string Path { get; }

    private SizeLimitedFolder(string path) => Path = path;

    public static SizeLimitedFolder Mount(int megabytes)
    {
        var path = Directory.CreateTempSubdirectory("slm-full-disk").FullName;
        if (!TryMount(path, megabytes, out var error)) throw new InvalidOperationException($"mount tmpfs failed: {error}");
        return new SizeLimitedFolder(path);
    }

    internal static bool TryMount(string path, int megabytes, out string error)
    {
        var (code, output) = Run("mount", "-t", "tmpfs", "-o", $"size={megabytes}m", "tmpfs", path);
        error = output;
        return code == 0;
    }

    internal static void Unmount(string path) => Run("umount", path);

    private static (int Code, string Output) Run(string file, params string[] arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            var output = process.StandardError.ReadToEnd() + process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output.Trim());
        }
        catch (System.ComponentModel.Win32Exception e) { return (-1, e.Message); }
    }

    /// <summary>Takes all the free space but <paramref name="leaveBytes"/>, with one file.</summary>
    public void Fill(long leaveBytes)
    {
        var free = new DriveInfo(Path).AvailableFreeSpace;
        using var filler = new FileStream(System.IO.Path.Combine(Path, "filler"), FileMode.Create);
        var block = new byte[1 << 20];
        for (var left = free - leaveBytes; left > 0; left -= block.Length)
            filler.Write(block, 0, (int)Math.Min(block.Length, left));
    }

    public void Dispose()
    {
        Unmount(Path);
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

public class DiskFullTests(ITestOutputHelper output)
{
    /// <summary>
    /// The run folders live on a 256 MB tmpfs. Once the run has saved a checkpoint the disk is filled, so the next save
    /// (the model or the checkpoint) fails with the kernel's "No space left on device".
    /// </summary>
    [SizeLimitedFolderFact]
    public async Task A_disk_that_fills_up_during_training_keeps_the_previous_checkpoint_and_the_run_says_the_disk_is_full()
    {
        var clock = Stopwatch.StartNew();
        using var disk = SizeLimitedFolder.Mount(256);
        await using var host = await StudioTestHost.StartAsync(new() { ["Studio:JobsPath"] = disk.Path });
        // Far more steps than the test waits for: only the full disk ends it.
        var projectId = await ScaleTestKit.AddTextProjectAsync(host, "Full disk", steps: 5000, evalEvery: 2);
        var runId = await host.Get<RunScheduler>().StartAsync(projectId, "tester");
        var folder = RunFolder.At(host.Get<StudioPaths>().Run(runId));

        var saved = new List<int>();
        var filled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task job;
        using (host.Get<RunNotifier>().Subscribe(runId, u =>
        {
            if (u.Event is not CheckpointSaved c) return Task.CompletedTask;
            lock (saved) saved.Add(c.Step);
            if (!filled.Task.IsCompleted)
            {
                disk.Fill(leaveBytes: 64 * 1024);
                filled.TrySetResult();
            }
            return Task.CompletedTask;
        }))
        {
            job = host.Get<TrainingJob>().RunAsync(runId, default);
            await job.WaitAsync(TimeSpan.FromMinutes(10));
        }
        output.WriteLine($"{clock.Elapsed}: run ended; checkpoints reported at steps {string.Join(", ", saved)}");
        Assert.True(filled.Task.IsCompleted, "the run saved a first checkpoint");

        var run = await ScaleTestKit.RunAsync(host, runId);
        Assert.Equal(RunStatus.Failed, run.Status);
        Assert.StartsWith("The disk is full, so this run stopped", run.Error);
        Assert.Contains("is kept", run.Error);
        output.WriteLine(run.Error);

        // The checkpoint on disk is the last one the trainer reported as saved, whole: it reads, and its state says so.
        var (tensors, metadata) = SafetensorsFile.ReadWithMetadata(folder.CheckpointFile);
        Assert.NotEmpty(tensors);
        var state = JsonSerializer.Deserialize<CheckpointState>(metadata["state"])!;
        Assert.Equal(saved[^1], state.Step);
        Assert.Contains($"(step {state.Step:N0}) is kept", run.Error);
        // No half-written temporary file is left taking the space.
        Assert.Empty(Directory.GetFiles(folder.CheckpointDirectory, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void Only_a_full_disk_is_explained_as_one()
    {
        var engine = "Could not write the checkpoint to /srv/jobs/7/checkpoint/state.safetensors: No space left on device : '/srv/jobs/7/checkpoint/.state.tmp'. The previous checkpoint (step 40) is kept: free some space, then resume the run to continue from it.";
        var (status, message) = TrainingJob.Outcome(new Core.Processes.EngineExit(1, "", Core.Processes.EndReason.None), null, new TrainingError(engine), RunStatus.Cancelled, false, true, 1);
        Assert.Equal(RunStatus.Failed, status);
        Assert.StartsWith("The disk is full, so this run stopped", message);
        Assert.EndsWith(engine, message);
        Assert.Equal("The data has no text.", TrainingJob.ExplainDiskFull("The data has no text."));
    }
}
