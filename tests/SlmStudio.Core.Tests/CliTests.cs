using System.Diagnostics;
using SlmStudio.Core.Tests.Training;
using SlmStudio.Core.Training;

namespace SlmStudio.Core.Tests;

public class CliTests
{
    private static (int Exit, string Out, string Err) Slm(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "slm.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(3)), "slm did not finish");
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    [Theory]
    [InlineData(new[] { "frobnicate" }, "unknown command")]
    [InlineData(new[] { "train", "--out", "x" }, "--data is required")]
    [InlineData(new[] { "train", "--data", "a", "--out", "x", "--colour", "red" }, "Unknown option --colour")]
    [InlineData(new[] { "train", "--data", "a", "--out", "x", "--max-steps", "many" }, "--max-steps must be a whole number")]
    [InlineData(new[] { "train", "--data", "a", "--out", "x", "--max-steps", "5", "--minutes", "2" }, "either --minutes or --max-steps")]
    [InlineData(new[] { "bench" }, "needs one of")]
    public void WrongArgumentsGiveOneLineErrorAndExitCode2(string[] args, string expected)
    {
        var (exit, _, err) = Slm(args);
        Assert.Equal(2, exit);
        Assert.Contains(expected, err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void EveryCommandHasHelp()
    {
        var (exit, overview, _) = Slm("--help");
        Assert.Equal(0, exit);
        foreach (var command in new[] { "train", "bench train", "bench tokenizer" })
        {
            Assert.Contains(command, overview);
            var (helpExit, help, _) = Slm([.. command.Split(' '), "--help"]);
            Assert.Equal(0, helpExit);
            Assert.Contains("slm " + command, help);
            Assert.Contains("--", help);
        }
    }

    [Fact]
    public void TrainPrintsJsonLinesAndDataErrorsAsErrorEvents()
    {
        var dir = TestPaths.NewTempDir();
        var data = TrainingFixture.WriteCorpus(dir, lines: 300);
        var (exit, stdout, _) = Slm("train", "--data", data, "--out", Path.Combine(dir, "run"), "--preset", "tiny", "--max-steps", "4",
            "--eval-every", "2", "--log-every", "2", "--vocab-size", "300", "--context", "32", "--batch-size", "4", "--device", "cpu");
        Assert.Equal(0, exit);
        var events = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(TrainingEvent.Parse).ToList();
        Assert.All(events, Assert.NotNull);
        Assert.IsType<TrainingStarted>(events.First(e => e is not TrainingMessage));
        Assert.Equal(2, events.OfType<TrainingStep>().Count());
        Assert.Equal(4, Assert.IsType<TrainingFinished>(events[^1]).Step);

        var (badExit, badOut, badErr) = Slm("train", "--data", Path.Combine(dir, "missing.txt"), "--out", Path.Combine(dir, "run2"));
        Assert.Equal(1, badExit);
        Assert.Contains("does not exist", Assert.IsType<TrainingError>(TrainingEvent.Parse(badOut.Trim())).Message);
        Assert.DoesNotContain("   at ", badErr);
    }
}
