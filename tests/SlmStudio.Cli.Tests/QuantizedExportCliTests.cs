using System.Diagnostics;
using System.Text.Json;
using SlmStudio.Core.Data;

namespace SlmStudio.Cli.Tests;

/// <summary><c>slm export --precision</c> and <c>slm bench generate --precision --json</c> through the real <c>slm</c>.</summary>
public sealed class QuantizedExportCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("slm-cli-quant-").FullName;
    private static readonly string TinyLlama = Path.Combine(Path.GetDirectoryName(FindRepoRoot())!, "shared", "fixtures", "tiny-llama-hf");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "SlmStudio.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("SlmStudio.sln not found above the test binaries.");
    }

    private static (int Exit, string Out, string Err) Slm(params string[] args)
    {
        var start = new ProcessStartInfo(IsolatedExtractor.FindDotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "slm.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(5)), "slm did not finish");
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void ExportAtInt8RecordsThePrecisionAndTheQualityCheck()
    {
        var artifact = Path.Combine(_dir, "int8");
        var (exit, output, err) = Slm("export", TinyLlama, "--out", artifact, "--precision", "int8");
        Assert.True(exit == 0, output + err);
        Assert.Contains("precision: int8", output);
        Assert.Contains("text sampled from the fp32 model", output);
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(artifact, "manifest.json")));
        Assert.Equal("int8", manifest.RootElement.GetProperty("precision").GetString());
        var quality = manifest.RootElement.GetProperty("quantization");
        Assert.Equal(8, quality.GetProperty("bits").GetInt32());
        Assert.True(quality.GetProperty("passed").GetBoolean());
    }

    [Fact]
    public void UnknownPrecisionIsRefusedInPlainWords()
    {
        var (exit, _, err) = Slm("export", TinyLlama, "--out", Path.Combine(_dir, "x"), "--precision", "int3");
        Assert.NotEqual(0, exit);
        Assert.Contains("--precision must be fp32, int8 or int4", err);
        var (benchExit, _, benchErr) = Slm("bench", "generate", "--model", TinyLlama, "--precision", "fp32,fp16");
        Assert.NotEqual(0, benchExit);
        Assert.Contains("'fp16' is not a precision", benchErr);
        var (concurrentExit, _, concurrentErr) = Slm("bench", "generate", "--model", TinyLlama, "--concurrent", "4,zero");
        Assert.NotEqual(0, concurrentExit);
        Assert.Contains("--concurrent: 'zero' is not a number of generations from 1 to 64", concurrentErr);
    }

    /// <summary>The JSON contract of the results array (names and engines); speeds are only checked to be positive.</summary>
    [Fact]
    public void BenchGenerateJsonHasOneResultPerEngineAndPrecision()
    {
        var (exit, output, err) = Slm("bench", "generate", "--model", TinyLlama, "--precision", "fp32,int4", "--json",
            "--prompt-tokens", "8", "--new-tokens", "4", "--repeats", "1", "--concurrent", "2,3");
        Assert.True(exit == 0, output + err);
        using var doc = JsonDocument.Parse(output);
        var results = doc.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(["onnxruntime/fp32", "onnxruntime/int4", "torchsharp/fp32"],
            results.Select(r => r.GetProperty("engine").GetString() + "/" + r.GetProperty("precision").GetString()));
        foreach (var r in results)
        {
            foreach (var name in new[] { "decodeTokensPerSecond", "prefillTokensPerSecond", "firstTokenMs" })
                Assert.True(r.GetProperty(name).GetDouble() > 0, name);
            Assert.True(r.GetProperty("sizeBytes").GetInt64() > 0);
        }
        Assert.True(results[1].GetProperty("sizeBytes").GetInt64() < results[0].GetProperty("sizeBytes").GetInt64());
        Assert.Equal(JsonValueKind.Number, results[1].GetProperty("lossChangePercent").ValueKind);
        var concurrency = doc.RootElement.GetProperty("concurrency").EnumerateArray().ToList();
        Assert.Equal([2, 3], concurrency.Select(c => c.GetProperty("requests").GetInt32()));
        foreach (var c in concurrency)
            foreach (var name in new[] { "separateTokensPerSecond", "batchedTokensPerSecond", "servedTokensPerSecond" })
                Assert.True(c.GetProperty(name).GetDouble() > 0, name);
    }
}
