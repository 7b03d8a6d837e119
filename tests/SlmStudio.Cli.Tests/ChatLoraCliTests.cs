using System.Text;
using System.Text.Json.Nodes;

namespace SlmStudio.Cli.Tests;

/// <summary>
/// "Answer questions" from a real base model with low-rank adapters through the real <c>slm</c>: the run keeps the
/// adapters in PEFT's layout beside the merged model, the export carries them, and the exported model answers.
/// </summary>
public sealed class ChatLoraCliTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("slm-chat-lora-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Chat_with_lora_on_a_base_model_saves_the_adapter_exports_it_and_answers()
    {
        var csv = new StringBuilder("question,answer\n");
        string[] names = ["Tom", "Lily", "Ben", "Sue"], pets = ["dog", "cat", "bird", "fish", "frog"];
        for (int i = 0; i < 20; i++)
            csv.Append($"\"What is the name of {names[i % 4]}'s {pets[i / 4 % 5]}?\",\"{names[i % 4]}'s {pets[i / 4 % 5]} is called Spot.\"\n");
        var data = Path.Combine(_root, "pairs.csv");
        File.WriteAllText(data, csv.ToString());
        var run = Path.Combine(_root, "run");

        var (exit, stdout, stderr) = ClassifyCliTests.Slm("train", "--task", "chat", "--data", data, "--out", run, "--base", FixturePaths.Fixture("stories260K-hf"),
            "--lora", "--lora-rank", "4", "--max-steps", "12", "--eval-every", "6", "--batch-size", "8", "--seed", "3", "--device", "cpu");
        Assert.True(exit == 0, $"slm train failed ({exit}): {stderr}\n{stdout}");

        var task = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "chat.json")))!;
        Assert.Equal("base", task["route"]!.GetValue<string>());
        var adapterConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "model", "adapter", "adapter_config.json")))!;
        Assert.Equal(4, adapterConfig["r"]!.GetValue<int>());
        Assert.True(new FileInfo(Path.Combine(run, "model", "adapter", "adapter_model.safetensors")).Length > 0);
        // Adapters train far fewer weights than the model has: the trainer says so when it starts.
        var started = JsonNode.Parse(stdout.Split('\n').First(l => l.Contains("\"started\"", StringComparison.Ordinal)))!;
        Assert.Equal(1e-3, started["learningRate"]!.GetValue<double>()); // LoRA's learning rate, not full fine-tuning's
        Assert.NotNull(JsonNode.Parse(File.ReadAllText(Path.Combine(run, "model", "tokenizer_config.json")))!["chat_template"]);
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "chat-results.json")))!;
        Assert.InRange(results["tokenF1"]!.GetValue<double>(), 0, 1);

        var artifact = Path.Combine(_root, "artifact");
        var export = ClassifyCliTests.Slm("export", run, "--out", artifact);
        Assert.True(export.Exit == 0, $"slm export failed ({export.Exit}): {export.Err}\n{export.Out}");
        Assert.Equal("chat", JsonNode.Parse(File.ReadAllText(Path.Combine(artifact, "manifest.json")))!["task"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(artifact, "adapter", "adapter_config.json")));
        Assert.True(File.Exists(Path.Combine(artifact, "adapter", "adapter_model.safetensors")));

        var (chatExit, answer, chatErr) = ClassifyCliTests.Slm("chat", artifact, "--prompt", "What is the name of Tom's dog?");
        Assert.True(chatExit == 0, chatErr);
        answer = answer.Trim();
        Assert.NotEmpty(answer);
        foreach (var t in new[] { "###", "</s>", "<s>", "Question:", "Answer:" }) Assert.DoesNotContain(t, answer);
    }

    [Fact]
    public void Bench_chat_is_listed_and_its_help_explains_the_benchmark()
    {
        Assert.Contains("  bench chat ", ClassifyCliTests.Slm("--help").Out);
        var (exit, help, err) = ClassifyCliTests.Slm("bench", "chat", "--help");
        Assert.True(exit == 0, err);
        foreach (var text in new[] { "--minutes", "--max-steps", "--preset", "--language-share", "--lr", "--json", "held-out", "fifth phrasing" }) Assert.Contains(text, help);
    }
}
