using SlmStudio.Core.Data;
using SlmStudio.Core.Instruction;
using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Tests.Instruction;

/// <summary>
/// Whole conversations (JSONL "messages") and pairs with a context column survive freezing into a dataset version
/// (redacted like any other text), and the chat engine reads them back from the frozen files with every turn.
/// </summary>
public sealed class ChatFreezeTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir("slm-chat-freeze");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private List<Conversation> FreezeAndRead(params ExtractedDocument[] docs)
    {
        var version = DatasetBuilder.Build(docs, new DatasetSettings { RemoveDuplicates = false, ValidationFraction = 0.25 }, Path.Combine(_dir, "datasets"));
        Assert.Equal(DatasetTask.QuestionAnswer, version.Task);
        var folder = Directory.GetDirectories(Path.Combine(_dir, "datasets")).Single();
        // As the portal hands a chat run its pairs: both split files in one JSONL, read with the frozen field names.
        var gathered = Path.Combine(_dir, "pairs.jsonl");
        File.WriteAllLines(gathered, new[] { "train.jsonl", "val.jsonl" }.SelectMany(f => File.ReadAllLines(Path.Combine(folder, f))));
        var file = InstructionData.ReadFile(gathered, new InstructionColumns("prompt", "response"));
        Assert.DoesNotContain(file.Problems, p => p.Severity == ProblemSeverity.Error);
        return [.. file.Conversations];
    }

    [Fact]
    public void Multi_turn_jsonl_freezes_whole_and_trains_on_every_answer_with_the_earlier_turns_as_context()
    {
        var path = Path.Combine(_dir, "chats.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, 8).Select(i =>
            $$"""{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi, I am customer {{i}}."},{"role":"assistant","content":"Hello {{i}}."},{"role":"user","content":"How long is leave {{i}}?"},{"role":"assistant","content":"{{20 + i}} days. Write to jane.doe@example.com."}]}"""));
        var preview = DocumentExtractor.PreviewTable(path, "chats.jsonl", DataLimits.Default);
        Assert.Equal("messages", preview.SuggestedMapping!.MessagesColumn);
        var doc = DocumentExtractor.Extract(path, "chats.jsonl", preview.SuggestedMapping, DataLimits.Default, CancellationToken.None);
        Assert.Equal(8, doc.Records.Count);
        Assert.All(doc.Records, r => Assert.Equal(5, r.Messages!.Count));

        var conversations = FreezeAndRead(doc);

        Assert.Equal(8, conversations.Count);
        var first = conversations.OrderBy(c => c.Question, StringComparer.Ordinal).First();
        Assert.Equal(["system", "user", "assistant", "user", "assistant"], first.Messages.Select(m => m.Role));
        Assert.Equal("Hi, I am customer 0.", first.Question);
        Assert.StartsWith("20 days.", first.Answer);
        Assert.DoesNotContain("jane.doe@example.com", first.Answer); // the email address was redacted inside the conversation too

        // Both answers are learned (the loss mask), each after the turns before it.
        var tokenizer = TokenizerFile.Load(Path.Combine(TestPaths.TinyLlama, "tokenizer.json"));
        var template = InstructionTemplate.For(tokenizer, null);
        var tokens = template.Tokenize(tokenizer, first.Messages, int.MaxValue);
        var answerText = tokenizer.Decode([.. tokens.Ids.Where((_, i) => tokens.IsAnswer[i])]);
        Assert.Contains("Hello 0.", answerText);
        Assert.Contains("20 days.", answerText);
        Assert.DoesNotContain("customer", answerText);
    }

    [Fact]
    public void Pairs_with_a_context_column_freeze_with_their_context_and_pairs_without_it_stay_pairs()
    {
        var path = Path.Combine(_dir, "faq.csv");
        File.WriteAllText(path, "question,answer,context\n" + string.Join("\n", Enumerable.Range(0, 8).Select(i =>
            $"\"What does plan {i} cost?\",\"Plan {i} costs {10 + i} pounds.\",{(i % 2 == 0 ? $"Pricing page {i}" : "")}")) + "\n");
        var mapping = ColumnMapping.Parse("prompt=question,response=answer,system=context");
        Assert.Equal("context", mapping.SystemColumn);
        Assert.Equal("prompt=question,response=answer,system=context", mapping.ToString());
        var doc = DocumentExtractor.Extract(path, "faq.csv", mapping, DataLimits.Default, CancellationToken.None);

        var conversations = FreezeAndRead(doc);

        Assert.Equal(8, conversations.Count);
        var withContext = conversations.Single(c => c.Question == "What does plan 2 cost?");
        Assert.Equal(["system", "user", "assistant"], withContext.Messages.Select(m => m.Role));
        Assert.Equal("Pricing page 2", withContext.Messages[0].Content);
        var without = conversations.Single(c => c.Question == "What does plan 3 cost?");
        Assert.Equal(["user", "assistant"], without.Messages.Select(m => m.Role));
        Assert.Equal("Plan 3 costs 13 pounds.", without.Answer);
    }

    [Fact]
    public void The_suggestion_finds_a_context_column_beside_question_and_answer()
    {
        var path = Path.Combine(_dir, "faq.csv");
        File.WriteAllText(path, "question,answer,context\n\"Where?\",\"Here.\",\"Office\"\n");
        var suggested = DocumentExtractor.PreviewTable(path, "faq.csv", DataLimits.Default).SuggestedMapping!;
        Assert.Equal(("question", "answer", "context"), (suggested.PromptColumn, suggested.ResponseColumn, suggested.SystemColumn));
    }
}
