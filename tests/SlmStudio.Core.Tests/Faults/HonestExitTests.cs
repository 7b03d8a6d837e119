using SlmStudio.Core.Processes;
using SlmStudio.Core.Tests.Training;

namespace SlmStudio.Core.Tests.Faults;

/// <summary>Issue 14: how an engine process ended is reported as what happened, not always as "out of memory".</summary>
public sealed class HonestExitTests
{
    [Theory]
    [InlineData(137, "SIGKILL", "was killed from outside (SIGKILL)")]
    [InlineData(-9, "SIGKILL", "was killed from outside (SIGKILL)")]
    [InlineData(134, "SIGABRT", "crashed: it aborted (SIGABRT)")]
    [InlineData(139, "SIGSEGV", "crashed in native code (SIGSEGV)")]
    [InlineData(143, "SIGTERM", "was stopped from outside (SIGTERM)")]
    public void ASignalIsNamed(int exitCode, string signal, string description)
    {
        var exit = new EngineExit(exitCode, "", EndReason.None);
        Assert.Equal(signal, exit.SignalName);
        Assert.True(exit.EndedBySystem);
        Assert.StartsWith($"The training process {description}", exit.Describe("The training process"));
    }

    [Fact]
    public void AnAbortCarriesTheFirstLineOfItsErrorOutput()
    {
        const string stderr = "Unhandled exception. System.IO.IOException: No space left on device : '/data/run/metrics.jsonl'\n   at System.IO.RandomAccess.WriteAtOffset()\n   at SlmStudio.Core.Training.Trainer.Report()";
        var exit = new EngineExit(134, stderr, EndReason.None);
        var text = exit.Describe("The training process");
        Assert.Contains("aborted (SIGABRT)", text);
        Assert.Contains("\"Unhandled exception. System.IO.IOException: No space left on device : '/data/run/metrics.jsonl'\"", text);
        Assert.DoesNotContain("RandomAccess", text);
        Assert.DoesNotContain("memory", text);
        Assert.False(exit.KilledFromOutside);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(130)] // the engine's own exit after Ctrl+C
    public void AnExitOfItsOwnIsNoSignal(int exitCode)
    {
        var exit = new EngineExit(exitCode, "", EndReason.None);
        Assert.Null(exit.Signal);
        Assert.False(exit.EndedBySystem);
    }

    [Fact]
    public async Task ATrainerKilledFromOutsideIsReportedAsKilledBySigkill()
    {
        if (OperatingSystem.IsWindows()) return; // signals are POSIX
        var dir = TestPaths.NewTempDir("slm-kill");
        var data = TrainingFixture.WriteCorpus(dir, lines: 200);
        var pid = 0;
        var exit = await SlmLauncher.ForCurrentInstall().TrainAsync(
            new TrainArguments(data, Path.Combine(dir, "run")) { Preset = "tiny", MaxSteps = 1_000_000, VocabSize = 300, LogEvery = 1 },
            line =>
            {
                // kill -9 from outside the launcher, as the out-of-memory killer or an administrator does.
                if (line.Contains("\"event\":\"step\"", StringComparison.Ordinal) && pid != 0)
                {
                    using var trainer = System.Diagnostics.Process.GetProcessById(pid);
                    trainer.Kill();
                    pid = 0;
                }
                return Task.CompletedTask;
            }, CancellationToken.None, started => pid = started);
        Assert.Equal(137, exit.ExitCode);
        Assert.True(exit.KilledFromOutside);
        Assert.Equal(EndReason.None, exit.EndedBy);
        Assert.Contains("killed from outside (SIGKILL)", exit.Describe("The training process"));
        Directory.Delete(dir, recursive: true);
    }
}
