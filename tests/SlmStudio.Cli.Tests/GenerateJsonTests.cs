using System.Diagnostics;
using System.Text.Json;
using SlmStudio.Core.Data;

namespace SlmStudio.Cli.Tests;

/// <summary>The command-line contract of issue 10: export a Hugging Face folder, then greedy ids as JSON lines must be
/// the reference implementation's <c>greedy_next_16</c>.</summary>
public sealed class GenerateJsonTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("slm-cli-generate-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static (int Exit, string Out, string Err) Slm(params string[] args)
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

    [Theory]
    [InlineData("tiny-llama-hf")]
    [InlineData("tiny-qwen2-hf")]
    [InlineData("tiny-mistral-hf")]
    [InlineData("tiny-phi3-hf")]
    [InlineData("tiny-phi2-hf")]
    public void ExportedFixtureGeneratesTheReferenceGreedyIdsAsJsonLines(string fixture)
    {
        var artifact = Path.Combine(_dir, "a");
        var (exportExit, _, exportErr) = Slm("export", FixturePaths.Fixture(fixture), "--out", artifact);
        Assert.True(exportExit == 0, exportErr);

        var (exit, stdout, err) = Slm("generate", artifact, "--prompt", "the cat and the win", "--max-tokens", "16",
            "--temperature", "0", "--repetition-penalty", "1", "--json");
        Assert.True(exit == 0, err);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var tokens = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        using var expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(FixturePaths.Fixture(fixture), "expected.json")));
        var greedy = expected.RootElement.GetProperty("greedy_next_16").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(greedy, tokens.Select(t => t.GetProperty("id").GetInt32()).ToArray());
        Assert.All(tokens, t =>
        {
            Assert.Equal(JsonValueKind.String, t.GetProperty("text").ValueKind);
            var p = t.GetProperty("probability").GetDouble();
            Assert.InRange(p, 0, 1);
        });
        // Greedy picks the most likely token, which has a real share of the probability.
        Assert.True(tokens.Min(t => t.GetProperty("probability").GetDouble()) > 0);

    }

    [Fact]
    public void JsonAndShowProbabilitiesTogetherAreAUsageError()
    {
        var (exit, _, err) = Slm("generate", _dir, "--prompt", "x", "--json", "--show-probabilities");
        Assert.Equal(2, exit);
        Assert.Contains("--json already includes", err);
    }
}
