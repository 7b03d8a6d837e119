using System.Diagnostics;
using System.Text.Json;
using SlmStudio.Core.Processes;
using SlmStudio.Core.Tests.Training;
using SlmStudio.Core.Training;

namespace SlmStudio.Core.Tests.Faults;

/// <summary>Issue 14: exactly one trainer per run folder, and an orphaned trainer stops itself.</summary>
public sealed class OneTrainerPerRunTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir("slm-one-trainer");

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static List<JsonElement> Events(RunFolder folder) =>
        File.ReadAllLines(folder.MetricsFile).Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement).ToList();

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        using var giveUp = new CancellationTokenSource(timeout);
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(200));
        while (!condition())
        {
            try { await tick.WaitForNextTickAsync(giveUp.Token); }
            catch (OperationCanceledException) { throw new TimeoutException($"Gave up waiting for {what}."); }
        }
    }

    [Fact]
    public async Task ASecondTrainerIsRefusedWhileTheFolderIsHeld()
    {
        var folder = RunFolder.At(Path.Combine(_dir, "run"));
        using (var held = folder.LockForTrainer())
        {
            Assert.True(folder.IsTrainerRunning);
            // In this process (a second Trainer) ...
            var options = TrainingFixture.Options(TrainingFixture.WriteCorpus(_dir, lines: 50), folder.Root, 2);
            var e = Assert.Throws<RunFolderBusyException>(() => new Trainer(options, new TrainingFixture.Recorder()).Run(resume: true, CancellationToken.None));
            Assert.Contains("Another training process is already working on the run folder", e.Message);

            // ... and as a separate `slm train --resume` (the OS lock holds across processes), with its own exit code.
            var lines = new List<string>();
            var exit = await SlmLauncher.ForCurrentInstall().TrainAsync(new TrainArguments(options.DataPath, folder.Root) { Resume = true },
                line => { lines.Add(line); return Task.CompletedTask; }, CancellationToken.None);
            Assert.Equal(SlmLauncher.RunFolderBusyExitCode, exit.ExitCode);
            Assert.Contains("Another training process is already working", exit.ErrorMessage);
            Assert.Contains(lines, l => l.Contains("\"event\":\"error\"", StringComparison.Ordinal));
        }
        Assert.False(folder.IsTrainerRunning); // released with the handle, as it is when a process dies
    }

    /// <summary>
    /// The portal killed with kill -9 while it trains: a stand-in parent (bash, then <c>sleep</c> in its place) holds the
    /// trainer's standard input the way the launcher does, and is killed with SIGKILL. The orphan must save a
    /// checkpoint and stop by itself, a second trainer must be refused while it lives, and afterwards exactly one
    /// trainer resumes where the orphan stopped.
    /// </summary>
    [Fact]
    public async Task AnOrphanedTrainerStopsItselfAfterACheckpointWhenItsParentIsKilled()
    {
        if (OperatingSystem.IsWindows()) return; // the stand-in parent is a POSIX shell
        var launcher = SlmLauncher.ForCurrentInstall();
        var data = TrainingFixture.WriteCorpus(_dir, lines: 300);
        var folder = RunFolder.At(Path.Combine(_dir, "run"));
        // Far more steps than the test waits for: the trainer can only end by noticing its parent is gone.
        string[] train = ["train", "--data", data, "--out", folder.Root, "--preset", "tiny", "--max-steps", "1000000", "--vocab-size", "300",
            "--context", "32", "--batch-size", "4", "--eval-every", "3", "--log-every", "1", "--device", "cpu", SlmLauncher.StopWithParentOption];
        var script = "exec 3> >(exec \"$0\" \"$@\" > \"$SLM_OUT\" 2> \"$SLM_ERR\"); echo $! > \"$SLM_PID\"; exec sleep 3600";
        var parentInfo = new ProcessStartInfo("bash") { UseShellExecute = false };
        foreach (var a in (string[])["-c", script, launcher.DotnetHost, launcher.SlmDllPath, .. train]) parentInfo.ArgumentList.Add(a);
        var pidFile = Path.Combine(_dir, "trainer.pid");
        parentInfo.Environment["SLM_OUT"] = Path.Combine(_dir, "out.jsonl");
        parentInfo.Environment["SLM_ERR"] = Path.Combine(_dir, "err.txt");
        parentInfo.Environment["SLM_PID"] = pidFile;
        using var parent = Process.Start(parentInfo)!;
        Process? orphan = null;
        try
        {
            await WaitUntilAsync(() => File.Exists(pidFile) && File.ReadAllText(pidFile).Trim().Length > 0, TimeSpan.FromMinutes(1), "the trainer's process id");
            orphan = Process.GetProcessById(int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture));
            await WaitUntilAsync(() => File.Exists(folder.MetricsFile) && File.ReadAllText(folder.MetricsFile).Contains("\"event\":\"checkpoint\"", StringComparison.Ordinal),
                TimeSpan.FromMinutes(5), "the first checkpoint");

            // While it trains, a second start (what a restarted portal's resume did) is refused.
            var second = await launcher.TrainAsync(new TrainArguments(data, folder.Root) { Resume = true }, _ => Task.CompletedTask, CancellationToken.None);
            Assert.Equal(SlmLauncher.RunFolderBusyExitCode, second.ExitCode);
            Assert.False(orphan.HasExited);

            parent.Kill(); // SIGKILL to the parent only: the trainer becomes an orphan
            await parent.WaitForExitAsync();
            await orphan.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
            Assert.False(folder.IsTrainerRunning);
        }
        finally
        {
            if (!parent.HasExited) parent.Kill();
            if (orphan is { HasExited: false }) orphan.Kill();
        }

        // It stopped like a cancelled run: a last checkpoint, then one (cancelled) finished event.
        var events = Events(folder);
        var finished = Assert.Single(events, e => e.GetProperty("event").GetString() == "finished");
        Assert.True(finished.GetProperty("cancelled").GetBoolean());
        var stoppedAt = finished.GetProperty("step").GetInt32();
        Assert.Equal(stoppedAt, events.Last(e => e.GetProperty("event").GetString() == "checkpoint").GetProperty("step").GetInt32());

        // Exactly one trainer continues, from where the orphan stopped, and its steps follow the orphan's (no interleaving).
        using var stop = new CancellationTokenSource();
        var resumedFirstStep = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var resume = launcher.TrainAsync(new TrainArguments(data, folder.Root) { Resume = true }, line =>
        {
            if (line.Contains("\"event\":\"step\"", StringComparison.Ordinal)) resumedFirstStep.TrySetResult();
            return Task.CompletedTask;
        }, stop.Token);
        await Task.WhenAny(resumedFirstStep.Task, resume).WaitAsync(TimeSpan.FromMinutes(5));
        File.WriteAllText(folder.CancelFile, "test"); // the polite stop: a checkpoint, then exit
        var exit = await resume.WaitAsync(TimeSpan.FromMinutes(3));
        Assert.True(exit.Succeeded, exit.StandardErrorTail);

        events = Events(folder);
        var starts = events.Where(e => e.GetProperty("event").GetString() == "started").Select(e => e.GetProperty("startStep").GetInt32()).ToList();
        Assert.Equal([0, stoppedAt], starts);
        var steps = events.Where(e => e.GetProperty("event").GetString() == "step").Select(e => e.GetProperty("step").GetInt32()).ToList();
        Assert.Equal(steps.Order(), steps);
        Assert.Equal(steps.Count, steps.Distinct().Count());
        Assert.Equal(2, events.Count(e => e.GetProperty("event").GetString() == "finished"));
    }
}
