using System.Diagnostics;
using System.Text;
using SlmStudio.Core.Classification;
using SlmStudio.Core.Data;
using SlmStudio.Core.Training;
using SlmStudio.Core.Verdicts;

namespace SlmStudio.Cli.Tests;

/// <summary>Runs the real <c>slm</c> as a child process, as the portal and scripts do.</summary>
public sealed class CliTests : IDisposable
{
    private static readonly string[] Commands = ["bench generate", "bench tokenizer", "bench train", "classify", "eval", "export", "extract", "generate", "import", "prepare", "train"];

    private readonly string _dir = Directory.CreateTempSubdirectory("slm-cli-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Exit, string Out, string Err) Slm(params string[] args)
    {
        var start = new ProcessStartInfo(IsolatedExtractor.FindDotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "slm.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(3)), "slm did not finish");
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    private static void AssertOneLineError(string err, string expected)
    {
        Assert.Contains(expected, err);
        Assert.Single(err.Trim().Split('\n'));
        Assert.StartsWith("error: ", err);
        Assert.DoesNotContain("   at ", err);
    }

    [Theory]
    [InlineData(new[] { "frobnicate" }, "unknown command 'frobnicate'")]
    [InlineData(new[] { "train", "--out", "x" }, "--data is required")]
    [InlineData(new[] { "train", "--data", "a", "--out", "x", "--colour", "red" }, "Unknown option --colour")]
    [InlineData(new[] { "export", "model", "--out", "x", "--fast" }, "Unknown option --fast")]
    [InlineData(new[] { "extract", "f.txt", "--out", "r.json", "--max-byte", "5" }, "Unknown option --max-byte")]
    [InlineData(new[] { "train", "--data", "a", "--out", "x", "--max-steps", "many" }, "--max-steps must be a whole number")]
    [InlineData(new[] { "train", "--data", "a", "--out", "x", "--max-steps", "5", "--minutes", "2" }, "either --minutes or --max-steps")]
    [InlineData(new[] { "train", "--data", "a", "--out", "x", "--seed", "1", "--seed", "2" }, "--seed")]
    [InlineData(new[] { "train", "--base", "m", "--data", "a", "--out", "x", "--preset", "tiny" }, "--preset does not apply with --base")]
    [InlineData(new[] { "prepare", "--data", "a", "--out", "b", "--task", "poems" }, "--task must be auto, text, classification or qa (got 'poems')")]
    [InlineData(new[] { "generate", "artifact" }, "--prompt is required")]
    [InlineData(new[] { "export", "a", "b", "--out", "x" }, "Unexpected argument 'b'")]
    [InlineData(new[] { "bench" }, "needs one of: ask, chat, classify, generate, lora, tokenizer, train")]
    public void WrongArgumentsGiveOneLineErrorAndExitCode2(string[] args, string expected)
    {
        var (exit, _, err) = Slm(args);
        Assert.Equal(2, exit);
        AssertOneLineError(err, expected);
        Assert.EndsWith("--help'.", err.Trim().Replace("for the list.", "--help'."));
    }

    [Fact]
    public void OverviewListsEveryCommand()
    {
        var (exit, overview, _) = Slm("--help");
        Assert.Equal(0, exit);
        foreach (var command in Commands) Assert.Contains("  " + command + " ", overview);
        var (bareExit, bare, _) = Slm();
        Assert.Equal(2, bareExit);
        Assert.Equal(overview, bare);
    }

    [Theory]
    [InlineData("train", new[] { "--data", "--out", "--preset", "--minutes", "--max-steps", "--base", "--library", "--resume", "--seed", "--vocab-size", "--eval-every", "--log-every", "--batch-size", "--context", "--grad-accum", "--lr", "--warmup", "--device" })]
    [InlineData("extract", new[] { "<stored file>", "--name", "--out", "--mapping", "--max-bytes", "--max-uncompressed-bytes", "Exit codes: 0 result written", "3 out of memory", "internal command" })]
    [InlineData("export", new[] { "<run folder | Hugging Face model folder>", "--out", "manifest.json" })]
    [InlineData("prepare", new[] { "--data", "--out", "--no-redact", "--keep-duplicates", "--seed", "--validation", "--mapping", "--task", "--timeout-seconds", "--isolate", "Exit codes:" })]
    [InlineData("generate", new[] { "<artifact folder>", "--prompt", "--max-tokens", "--temperature", "--top-k", "--top-p", "--repetition-penalty", "--seed", "--stop", "--show-probabilities", "--json" })]
    [InlineData("import", new[] { "<folder | zip>", "--name", "--library", "slm-base-model.json", "Exit codes:" })]
    [InlineData("eval", new[] { "<artifact folder>", "--data", "--context", "--json" })]
    [InlineData("bench train", new[] { "--presets", "--vocab-size", "--steps", "--device", "--json", "--memory", "--parts" })]
    [InlineData("bench tokenizer", new[] { "--data", "--vocab-size", "--bytes" })]
    [InlineData("bench generate", new[] { "--preset", "--model", "--vocab-size", "--prompt-tokens", "--new-tokens", "--repeats", "--ort-threads", "--torch-threads", "--json", "--concurrent" })]
    public void EachCommandsHelpListsItsOptions(string command, string[] expected)
    {
        var (exit, help, err) = Slm([.. command.Split(' '), "--help"]);
        Assert.Equal(0, exit);
        Assert.Equal("", err);
        Assert.Contains("slm " + command, help);
        foreach (var text in expected) Assert.Contains(text, help);
    }

    [Fact]
    public void TrainHelpShowsTheEngineDefaultsNotCopiesOfThem()
    {
        var defaults = new TrainingOptions { DataPath = "", RunDirectory = "" };
        var (_, wrapped, _) = Slm("train", "--help");
        var help = System.Text.RegularExpressions.Regex.Replace(wrapped, @"\s+", " "); // the help wraps lines at the terminal's width
        Assert.Contains($"random seed (default {defaults.Seed})", help);
        Assert.Equal(TrainingOptions.VocabFromData, defaults.VocabSize);
        Assert.Contains($"(default: fitted to the amount of text, {TrainingAdvice.VocabularyFor(0):N0} to {TrainingAdvice.VocabularyFor(long.MaxValue):N0}; {TrainingOptions.DefaultVocabSize:N0} for --task classify and chat)", help);
        Assert.Contains($"(default {ClassificationRunOptions.ScratchTokenDropout.ToString(System.Globalization.CultureInfo.InvariantCulture)} from scratch, 0 with --base)", help);
        Assert.Contains($"(default {TrainingOptions.DefaultMinutes} when --max-steps is not given)", help);
    }

    [Fact]
    public void MissingFilesAreEngineErrorsWithExitCode1()
    {
        var missing = Path.Combine(_dir, "nothing-here");
        var (generateExit, _, generateErr) = Slm("generate", missing, "--prompt", "hello");
        Assert.Equal(1, generateExit);
        AssertOneLineError(generateErr, "does not exist");

        var (exportExit, _, exportErr) = Slm("export", missing, "--out", Path.Combine(_dir, "artifact"));
        Assert.Equal(1, exportExit);
        AssertOneLineError(exportErr, "nothing-here");

        var (prepareExit, _, prepareErr) = Slm("prepare", "--data", missing, "--out", Path.Combine(_dir, "datasets"));
        Assert.Equal(1, prepareExit);
        AssertOneLineError(prepareErr, "is neither a file nor a folder");
    }

    [Fact]
    public void ExtractWritesTheDocumentAndTakesNamesThatLookLikeResponseFiles()
    {
        var stored = Path.Combine(_dir, "upload.bin");
        File.WriteAllText(stored, "Hello from a text file.\n");
        var result = Path.Combine(_dir, "result.json");
        var (exit, _, err) = Slm("extract", stored, "--name", "@notes.txt", "--out", result);
        Assert.True(exit == 0, err);
        var json = File.ReadAllText(result);
        Assert.Contains("\"originalName\": \"@notes.txt\"", json);
        Assert.Contains("Hello from a text file.", json);
    }

    [Fact]
    public void TrainPrintsJsonLinesAndDataErrorsAsErrorEvents()
    {
        var data = Path.Combine(_dir, "corpus.txt");
        var text = new StringBuilder();
        var random = new Random(7);
        string[] words = ["the", "printer", "in", "Berlin", "was", "repaired", "on", "Monday", "by", "Anna", "and", "Hugo"];
        for (int i = 0; i < 300; i++) text.AppendLine(string.Join(' ', Enumerable.Range(0, 10).Select(_ => words[random.Next(words.Length)])) + ".");
        File.WriteAllText(data, text.ToString());
        var (exit, stdout, err) = Slm("train", "--data", data, "--out", Path.Combine(_dir, "run"), "--preset", "tiny", "--max-steps", "4",
            "--eval-every", "2", "--log-every", "2", "--vocab-size", "300", "--context", "32", "--batch-size", "4", "--device", "cpu");
        Assert.True(exit == 0, err);
        var events = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(TrainingEvent.Parse).ToList();
        Assert.All(events, Assert.NotNull);
        Assert.IsType<TrainingStarted>(events.First(e => e is not TrainingMessage));
        Assert.Equal(2, events.OfType<TrainingStep>().Count());
        Assert.Equal(4, Assert.IsType<TrainingFinished>(events[^1]).Step);

        var (badExit, badOut, badErr) = Slm("train", "--data", Path.Combine(_dir, "missing.txt"), "--out", Path.Combine(_dir, "run2"));
        Assert.Equal(1, badExit);
        Assert.Contains("does not exist", Assert.IsType<TrainingError>(TrainingEvent.Parse(badOut.Trim())).Message);
        AssertOneLineError(badErr, "does not exist");
    }
}
