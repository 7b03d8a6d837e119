using SlmStudio.Core.Processes;
using SlmStudio.Core.Tests.Data;

namespace SlmStudio.Core.Tests.Processes;

/// <summary>The launcher against the real slm.dll in the test output folder.</summary>
public sealed class SlmLauncherTests
{
    [Fact]
    public void TrainCommandLineLeavesOutWhatTheEngineDecides()
    {
        Assert.Equal(["train", "--data", "/d", "--out", "/r"], SlmLauncher.TrainCommandLine(new TrainArguments("/d", "/r")));
        var full = SlmLauncher.TrainCommandLine(new TrainArguments("/d", "/r")
        {
            Preset = "tiny", MaxSteps = 12, Minutes = 2.5, VocabSize = 512, Seed = 7, EvalEvery = 8, LogEvery = 2, BaseModel = "/b", Resume = true,
        });
        // A step limit replaces the time budget, as the trainer would otherwise refuse both.
        Assert.Equal(["train", "--data", "/d", "--out", "/r", "--preset", "tiny", "--max-steps", "12", "--vocab-size", "512", "--seed", "7",
            "--eval-every", "8", "--log-every", "2", "--base", "/b", "--resume"], full);
        Assert.Contains("2.5", SlmLauncher.TrainCommandLine(new TrainArguments("/d", "/r") { Minutes = 2.5 }));
    }

    [Theory]
    [InlineData("error: The folder x does not exist.", "The folder x does not exist.")]
    [InlineData("warning: slow disk\nerror: No model here.", "No model here.")]
    [InlineData("Unhandled exception. System.Exception: error: inside", null)]
    [InlineData("", null)]
    public void TheEnginesOwnExplanationIsTheLastErrorLine(string stderr, string? expected) =>
        Assert.Equal(expected, new EngineExit(1, stderr, EndReason.None).ErrorMessage);

    [Theory]
    [InlineData(137, EndReason.None, true)]
    [InlineData(139, EndReason.None, true)]
    [InlineData(1, EndReason.None, false)]
    [InlineData(137, EndReason.Killed, false)] // the launcher killed it, not the system
    public void AnEndBySignalIsTheSystemsNotTheEngines(int exitCode, EndReason endedBy, bool bySystem) =>
        Assert.Equal(bySystem, new EngineExit(exitCode, "", endedBy).EndedBySystem);

    [Fact]
    public async Task ExportOfAFolderWithoutAModelReportsTheEnginesMessageAndNoParityFailure()
    {
        using var dir = new TempFolder();
        var empty = Directory.CreateDirectory(Path.Combine(dir.Path, "run")).FullName;
        var export = await SlmLauncher.ForCurrentInstall().ExportAsync(empty, Path.Combine(dir.Path, "out"), null, CancellationToken.None);
        Assert.False(export.Succeeded);
        Assert.False(export.ParityFailed);
        Assert.Equal(SlmLauncher.ErrorExitCode, export.Exit.ExitCode);
        Assert.True(export.Exit.ErrorMessage?.Contains("neither a training run folder", StringComparison.Ordinal), export.Exit.StandardErrorTail);
    }

    [Fact]
    public async Task AMissingEngineIsReportedBeforeAnythingStarts()
    {
        using var dir = new TempFolder();
        var launcher = new SlmLauncher(Path.Combine(dir.Path, "slm.dll"));
        await Assert.ThrowsAsync<FileNotFoundException>(() => launcher.ExportAsync(dir.Path, Path.Combine(dir.Path, "out"), null, CancellationToken.None));
    }

    [Fact]
    public async Task CancellingBeforeTheStartStillEndsWithCancellation()
    {
        using var dir = new TempFolder();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            SlmLauncher.ForCurrentInstall().ExportAsync(dir.Path, Path.Combine(dir.Path, "out"), null, cancelled.Token));
    }
}
