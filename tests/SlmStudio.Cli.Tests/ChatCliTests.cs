using System.Text;
using System.Text.Json.Nodes;

namespace SlmStudio.Cli.Tests;

/// <summary>
/// "Answer questions" through the real <c>slm</c>: tune the stories260K base model on 30 question/answer pairs, export
/// it, ask it once and in a piped conversation, and score it with <c>slm eval</c>. One run for the whole class.
/// </summary>
public sealed class ChatCliTests(ChatCliTests.TunedChatModel tuned) : IClassFixture<ChatCliTests.TunedChatModel>
{
    private static string Csv(int count)
    {
        string[] names = ["Tom", "Ann", "Bob", "Eve", "Sam"], things = ["door", "car", "cup", "hat", "box", "bike"], colours = ["red", "blue", "green", "yellow", "white", "black"];
        var csv = new StringBuilder("Q,A\n");
        for (int i = 0; i < count; i++)
        {
            var (name, thing) = (names[i % names.Length], things[i / names.Length % things.Length]);
            csv.Append($"\"What colour is {name}'s {thing}?\",\"{name}'s {thing} is {colours[(i * 7 + 3) % colours.Length]}.\"\n");
        }
        return csv.ToString();
    }

    public sealed class TunedChatModel : IDisposable
    {
        public string Root { get; } = Directory.CreateTempSubdirectory("slm-chat-run-").FullName;
        public string Data => Path.Combine(Root, "faq.csv");
        public string Run => Path.Combine(Root, "run");
        public string Artifact => Path.Combine(Root, "artifact");
        public (int Exit, string Out, string Err) Train { get; }
        public (int Exit, string Out, string Err) Export { get; }

        public TunedChatModel()
        {
            File.WriteAllText(Data, Csv(30));
            Train = ClassifyCliTests.Slm("train", "--task", "chat", "--data", Data, "--question-column", "Q", "--answer-column", "A", "--out", Run,
                "--base", FixturePaths.Fixture("stories260K-hf"), "--max-steps", "40", "--eval-every", "10", "--lr", "3e-3", "--batch-size", "8", "--seed", "4");
            Export = Train.Exit == 0 ? ClassifyCliTests.Slm("export", Run, "--out", Artifact) : default;
        }

        public void Dispose() => Directory.Delete(Root, recursive: true);
    }

    private static readonly string[] TemplateText = ["###", "</s>", "<s>", "Question:", "Answer:"];

    [Fact]
    public void Train_prints_progress_and_the_held_out_scores_before_finished()
    {
        Assert.True(tuned.Train.Exit == 0, $"slm train failed ({tuned.Train.Exit}): {tuned.Train.Err}\n{tuned.Train.Out}");
        var events = tuned.Train.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal("finished", events[^1]["event"]!.GetValue<string>());
        Assert.Contains(events, e => e["event"]!.GetValue<string>() == "message" && e["text"]!.GetValue<string>().StartsWith("Exact match", StringComparison.Ordinal));
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(tuned.Run, "chat-results.json")))!;
        Assert.InRange(results["tokenF1"]!.GetValue<double>(), 0, 1);
        Assert.True(results["best"]!.AsArray().Count > 0);
    }

    [Fact]
    public void Export_marks_a_chat_model_and_chat_prompt_answers_without_template_tokens()
    {
        Assert.True(tuned.Export.Exit == 0, $"slm export failed ({tuned.Export.Exit}): {tuned.Export.Err}");
        Assert.Equal("chat", JsonNode.Parse(File.ReadAllText(Path.Combine(tuned.Artifact, "manifest.json")))!["task"]!.GetValue<string>());
        Assert.NotNull(JsonNode.Parse(File.ReadAllText(Path.Combine(tuned.Artifact, "tokenizer_config.json")))!["chat_template"]);

        var (exit, stdout, stderr) = ClassifyCliTests.Slm("chat", tuned.Artifact, "--prompt", "What colour is Tom's door?");
        Assert.True(exit == 0, stderr);
        var answer = stdout.Trim();
        Assert.NotEmpty(answer);
        Assert.DoesNotContain('\n', answer); // one answer, stopped at the end of its turn
        foreach (var t in TemplateText) Assert.DoesNotContain(t, answer);
    }

    [Fact]
    public void Eval_prints_exact_match_token_f1_and_rouge_l()
    {
        Assert.True(tuned.Export.Exit == 0, tuned.Export.Err);
        var (exit, stdout, stderr) = ClassifyCliTests.Slm("eval", tuned.Artifact, "--data", tuned.Data, "--question-column", "Q", "--answer-column", "A", "--json");
        Assert.True(exit == 0, stderr);
        var json = JsonNode.Parse(stdout)!;
        Assert.Equal(30, json["questions"]!.GetValue<int>());
        foreach (var name in new[] { "exactMatch", "tokenF1", "rougeL" }) Assert.InRange(json[name]!.GetValue<double>(), 0, 1);
        // Trained on these very pairs, the model gets the shape of the answers right at least.
        Assert.True(json["tokenF1"]!.GetValue<double>() > 0.5, stdout);
    }

    [Fact]
    public void Wrong_use_is_explained()
    {
        var (exit, _, stderr) = ClassifyCliTests.Slm("train", "--task", "text", "--data", tuned.Data, "--out", Path.Combine(tuned.Root, "x"), "--question-column", "Q");
        Assert.Equal(2, exit);
        Assert.Contains("--question-column", stderr);
        (exit, _, stderr) = ClassifyCliTests.Slm("chat", FixturePaths.Fixture("stories260K-hf"), "--prompt", "hi");
        Assert.Equal(1, exit);
        Assert.Contains("manifest", stderr, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Help_lists_chat_and_its_options()
    {
        Assert.Contains("  chat ", ClassifyCliTests.Slm("--help").Out);
        var chat = ClassifyCliTests.Slm("chat", "--help").Out;
        foreach (var option in new[] { "--prompt", "--system", "--max-tokens", "/reset" }) Assert.Contains(option, chat);
        var train = ClassifyCliTests.Slm("train", "--help").Out;
        foreach (var option in new[] { "--question-column", "--answer-column", "--system-column", "chat-results.json" }) Assert.Contains(option, train);
        Assert.Contains("--question-column", ClassifyCliTests.Slm("eval", "--help").Out);
    }
}
