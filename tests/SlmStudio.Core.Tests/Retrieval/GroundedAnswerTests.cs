using SlmStudio.Core.Retrieval;

namespace SlmStudio.Core.Tests.Retrieval;

public sealed class GroundedAnswerTests
{
    private static readonly Passage Leave = new("handbook.md#3", "handbook.md", ["Employee Handbook", "Leave", "Annual leave"],
        "Every full-time employee gets 28 days of paid holiday per calendar year.", Line: 17);
    private static readonly Passage Carry = new("handbook.md#4", "handbook.md", ["Employee Handbook", "Leave", "Annual leave"],
        "You may carry over up to 5 unused days into the next year.", Line: 19);
    private static readonly Passage Kits = new("safety.pdf#2", "safety.pdf", ["First Aid"], "First aid kits are kept in the kitchen.", Page: 2);

    [Fact]
    public void The_prompt_numbers_the_passages_with_their_sources_and_states_the_rules()
    {
        var prompt = GroundedAnswer.BuildPrompt("How many  days of\nholiday do I get?", [Leave, Kits]);
        Assert.Contains("[1] (handbook.md, Employee Handbook › Leave › Annual leave)\nEvery full-time employee gets 28 days", prompt);
        Assert.Contains("[2] (safety.pdf, First Aid, page 2)\nFirst aid kits", prompt);
        Assert.Contains("only", prompt);
        Assert.Contains($"reply only: \"{GroundedAnswer.NotAnsweredSentence}\"", prompt);
        Assert.Contains("[1][3]", prompt);
        Assert.EndsWith("Question: How many days of holiday do I get?\nAnswer:", prompt);
        Assert.True(prompt.IndexOf("[1] (", StringComparison.Ordinal) < prompt.IndexOf("[2] (", StringComparison.Ordinal));
    }

    [Fact]
    public void Long_passages_are_shortened_at_a_word()
    {
        var longText = string.Join(" ", Enumerable.Repeat("holiday", 500));
        var prompt = GroundedAnswer.BuildPrompt("q", [Leave with { Text = longText }], maxCharactersPerPassage: 100);
        Assert.Contains(string.Join(" ", Enumerable.Repeat("holiday", 12)) + " …\n", prompt);
        Assert.DoesNotContain(longText, prompt);
    }

    [Fact]
    public void Citations_map_back_to_the_numbered_passages()
    {
        var passages = new[] { Leave, Carry, Kits };
        const string answer = "You get 28 days [1]. Up to 5 days carry over [2][1]; kits are in the kitchen [3, 2]. See also [7].";
        var parsed = GroundedAnswer.ParseCitations(answer, passages);
        Assert.Equal([1, 2, 1, 3, 2, 7], parsed.Citations.Select(c => c.Number));
        Assert.Equal([Leave.Id, Carry.Id, Kits.Id], parsed.CitedPassages.Select(p => p.Id));
        Assert.Equal([7], parsed.UnknownNumbers);
        Assert.Null(parsed.Citations[^1].Passage);
        var first = parsed.Citations[0].Span;
        Assert.Equal("[1]", answer.Substring(first.Start, first.Length));
        var grouped = parsed.Citations[3].Span;
        Assert.Equal("[3, 2]", answer.Substring(grouped.Start, grouped.Length));
        Assert.Empty(GroundedAnswer.ParseCitations("No citations here, just 2023 and a [note].", passages).Citations);
    }

    [Fact]
    public void A_refusal_is_recognised()
    {
        Assert.True(GroundedAnswer.SaysNotAnswered(GroundedAnswer.NotAnsweredSentence));
        Assert.True(GroundedAnswer.SaysNotAnswered("Sorry - the documents don't answer this question."));
        Assert.False(GroundedAnswer.SaysNotAnswered("You get 28 days [1]."));
    }
}

public sealed class RetrievalQuestionTests
{
    [Fact]
    public void Goal_tests_are_read_from_the_arrow_form()
    {
        Assert.Equal(new RetrievalQuestion("How do we handle moonlighting?", "handbook.md", "Second jobs"),
            RetrievalQuestion.Parse("How do we handle moonlighting? -> handbook.md / Second jobs"));
        Assert.Equal(new RetrievalQuestion("Kits?", "safety.pdf", null, "kitchen"), RetrievalQuestion.Parse("Kits? -> safety.pdf / / kitchen"));
        Assert.Equal(new RetrievalQuestion("Q", "a.txt"), RetrievalQuestion.Parse("Q -> a.txt"));
        Assert.Throws<FormatException>(() => RetrievalQuestion.Parse("no arrow here"));
        Assert.Throws<FormatException>(() => RetrievalQuestion.Parse(" -> a.txt"));
    }

    [Fact]
    public void A_passage_answers_when_file_heading_and_text_all_fit()
    {
        var p = new Passage("a.md#1", "A.md", ["Leave", "Sick leave"], "Call your manager before 9:00.");
        Assert.True(new RetrievalQuestion("q", "a.md", "sick", "manager").IsAnsweredBy(p));
        Assert.False(new RetrievalQuestion("q", "b.md").IsAnsweredBy(p));
        Assert.False(new RetrievalQuestion("q", "a.md", "Annual").IsAnsweredBy(p));
        Assert.False(new RetrievalQuestion("q", "a.md", ExpectedText: "doctor").IsAnsweredBy(p));
    }
}
