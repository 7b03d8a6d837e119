using SlmStudio.Core.Export;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Retrieval;
using SlmStudio.Core.Tests.Export;

namespace SlmStudio.Core.Tests.Retrieval;

/// <summary>A tiny random-weight model with a 1,024-token context, exported once: enough to check the plumbing, not answers.</summary>
public sealed class AnswererModel : IDisposable
{
    public const int Context = 1024;
    private readonly string root = TestPaths.NewTempDir("slm-answerer");
    public OnnxArtifact Artifact { get; }
    public TextGenerator Generator { get; }

    public AnswererModel()
    {
        var model = OnnxTestModels.CreateModelFolder(
            OnnxTestModels.Custom(hidden: 32, layers: 1, heads: 2, kvHeads: 1, tied: true, ff: 64, context: Context), Path.Combine(root, "model"));
        ModelExporter.Export(model, Path.Combine(root, "artifact"));
        Artifact = OnnxArtifact.Open(Path.Combine(root, "artifact"));
        Generator = new TextGenerator(Artifact);
    }

    public void Dispose()
    {
        Artifact.Dispose();
        Directory.Delete(root, recursive: true);
    }
}

public sealed class DocumentAnswererTests(AnswererModel model) : IClassFixture<AnswererModel>
{
    private static Passage Long(int n) => new($"policy.md#{n}", "policy.md", ["Policy", $"Section {n}"],
        string.Join(" ", Enumerable.Repeat($"Rule {n} says that requests are approved by the manager within five days.", 25)));

    private int Tokens(string prompt) => model.Generator.Encode(prompt).Length;

    [Fact]
    public void Passages_that_fit_are_all_given_in_full_with_the_requested_answer_length()
    {
        Passage[] passages = [new("a.md#1", "a.md", ["Leave"], "Staff get 28 days of holiday."), new("a.md#2", "a.md", ["Sick leave"], "Call your manager before 9:00.")];
        var (prompt, read, newTokens) = DocumentAnswerer.FitPrompt(model.Generator, "How much holiday?", passages, 100);
        Assert.Equal(passages, read);
        Assert.Equal(100, newTokens);
        Assert.Equal(GroundedAnswer.BuildPrompt("How much holiday?", passages), prompt);
    }

    [Fact]
    public void Long_passages_are_shortened_then_dropped_from_the_end_until_the_prompt_and_answer_fit()
    {
        var passages = Enumerable.Range(1, 5).Select(Long).ToList();
        Assert.True(Tokens(GroundedAnswer.BuildPrompt("Who approves requests?", passages)) > AnswererModel.Context);
        var (prompt, read, newTokens) = DocumentAnswerer.FitPrompt(model.Generator, "Who approves requests?", passages, 200);
        Assert.Equal(200, newTokens);
        Assert.True(Tokens(prompt) + newTokens <= AnswererModel.Context, $"{Tokens(prompt)} prompt tokens");
        Assert.InRange(read.Count, 1, passages.Count);
        Assert.Contains(" …", prompt); // shortened at a word
        Assert.Equal(passages.Take(read.Count), read);
        Assert.Contains("[1] (policy.md, Policy › Section 1)", prompt);
        Assert.DoesNotContain($"[{read.Count + 1}] (", prompt);
        Assert.EndsWith("Question: Who approves requests?\nAnswer:", prompt);
    }

    [Fact]
    public void The_answer_gets_the_room_left_and_a_prompt_that_cannot_fit_is_explained()
    {
        var passages = Enumerable.Range(1, 2).Select(Long).ToList();
        var (prompt, read, newTokens) = DocumentAnswerer.FitPrompt(model.Generator, "Who approves requests?", passages, 5000);
        Assert.Single(read);
        Assert.Equal(AnswererModel.Context - Tokens(prompt), newTokens);

        var endless = string.Join(" ", Enumerable.Repeat("approval", 800)) + "?";
        var error = Assert.Throws<EngineException>(() => DocumentAnswerer.FitPrompt(model.Generator, endless, passages, 100));
        Assert.Contains($"reads at most {AnswererModel.Context} tokens", error.Message);
    }

    [Fact]
    public async Task A_written_answer_comes_back_with_its_citations_parsed_against_the_passages_read()
    {
        Passage[] passages = [new("a.md#1", "a.md", ["Leave"], "Staff get 28 days of holiday.")];
        var answer = await DocumentAnswerer.WriteAsync(model.Generator, "How much holiday?", passages, maxNewTokens: 12);
        Assert.Equal(passages, answer.PassagesRead);
        Assert.Equal(answer.Text.Trim(), answer.Text);
        Assert.Contains(answer.FinishReason, new[] { "eos", "stop", "length" });
        Assert.Equal(GroundedAnswer.ParseCitations(answer.Text, passages), answer.Citations, new CitationsComparer());
        Assert.EndsWith("Answer:", answer.Prompt);
    }

    private sealed class CitationsComparer : IEqualityComparer<AnswerCitations>
    {
        public bool Equals(AnswerCitations? x, AnswerCitations? y) =>
            x!.Citations.SequenceEqual(y!.Citations) && x.CitedPassages.SequenceEqual(y.CitedPassages) && x.UnknownNumbers.SequenceEqual(y.UnknownNumbers);

        public int GetHashCode(AnswerCitations obj) => obj.Citations.Count;
    }
}
