using System.Text.Json;

namespace SlmStudio.Cli.Tests;

/// <summary><c>slm import</c> as a script or the portal runs it.</summary>
public sealed class ImportCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("slm-cli-import-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ImportsIntoTheLibraryAndRefusesTheSameNameTwice()
    {
        var library = Path.Combine(_dir, "base");
        var (exit, stdout, err) = GenerateJsonTests.Slm("import", FixturePaths.Fixture("tiny-qwen2-hf"), "--name", "qwen", "--library", library);
        Assert.True(exit == 0, err);
        Assert.Contains("architecture:   Qwen2ForCausalLM (qwen2)", stdout);
        Assert.Contains("context length: 128 tokens", stdout);
        using var entry = JsonDocument.Parse(File.ReadAllText(Path.Combine(library, "qwen", "slm-base-model.json")));
        Assert.Equal("qwen", entry.RootElement.GetProperty("name").GetString());
        Assert.Equal(64, entry.RootElement.GetProperty("weightsSha256").GetString()!.Length);

        var (again, _, againErr) = GenerateJsonTests.Slm("import", FixturePaths.Fixture("tiny-llama-hf"), "--name", "qwen", "--library", library);
        Assert.Equal(1, again);
        Assert.StartsWith("error: A base model named 'qwen' is already in the library", againErr);
        Assert.Single(againErr.Trim().Split('\n'));
    }

    [Fact]
    public void TrainFindsABaseModelByItsLibraryName()
    {
        var library = Path.Combine(_dir, "base");
        var (importExit, _, importErr) = GenerateJsonTests.Slm("import", FixturePaths.Fixture("tiny-llama-hf"), "--name", "tiny", "--library", library);
        Assert.True(importExit == 0, importErr);
        var data = Path.Combine(_dir, "stories.txt");
        File.WriteAllText(data, string.Concat(Enumerable.Repeat("the cat and the dog sat in the win. the dog and the cat ran.\n", 60)));

        var (exit, stdout, err) = GenerateJsonTests.Slm("train", "--base", "tiny", "--library", library, "--data", data, "--out", Path.Combine(_dir, "run"),
            "--max-steps", "2", "--eval-every", "2", "--log-every", "1", "--batch-size", "2", "--context", "16", "--device", "cpu");
        Assert.True(exit == 0, err + stdout);
        Assert.Contains("\"event\":\"finished\"", stdout);

        var (unknown, unknownOut, unknownErr) = GenerateJsonTests.Slm("train", "--base", "nope", "--library", library, "--data", data, "--out", Path.Combine(_dir, "run2"));
        Assert.Equal(1, unknown);
        Assert.Contains("'nope' is neither a model folder nor a base model in the library", unknownErr);
        Assert.Contains("The library has: tiny.", unknownErr);
        Assert.Contains("\"event\":\"error\"", unknownOut);
    }

    [Fact]
    public void ARefusedModelIsExitCode1WithTheReasonAndNoFolder()
    {
        var source = FixturePaths.CopyFixture("tiny-llama-hf", Path.Combine(_dir, "odd"));
        var config = Path.Combine(source, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"llama\"", "\"falcon\"", StringComparison.Ordinal));
        var library = Path.Combine(_dir, "base");
        var (exit, _, err) = GenerateJsonTests.Slm("import", source, "--library", library);
        Assert.Equal(1, exit);
        Assert.Contains("'falcon' is not supported", err);
        Assert.False(Directory.Exists(library) && Directory.EnumerateFileSystemEntries(library).Any());

        var (usage, _, usageErr) = GenerateJsonTests.Slm("import");
        Assert.Equal(2, usage);
        Assert.Contains("Give the model folder or zip to import.", usageErr);
    }
}
