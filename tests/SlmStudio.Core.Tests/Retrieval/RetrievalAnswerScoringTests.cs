using SlmStudio.Core.Retrieval;
using SlmStudio.Core.Tests.Data;
using Xunit.Abstractions;

namespace SlmStudio.Core.Tests.Retrieval;

/// <summary>Scoring written answers against goal tests: scripted answers through the same path a model's answer takes.</summary>
public sealed class RetrievalAnswerScoringTests(HandbookIndex handbook, ITestOutputHelper output) : IClassFixture<HandbookIndex>
{
    private static readonly RetrievalQuestion Holiday = new("How many days of annual leave do I get?", "handbook.md", "Annual leave", "28 days");
    private static readonly RetrievalQuestion Moonlighting = new("How do we handle moonlighting?", "handbook.md", "Second jobs", "written approval");
    private static readonly RetrievalQuestion Meals = new("What is the daily meal allowance on a business trip?", "expenses.txt", "Meals");
    private static readonly RetrievalQuestion Peru = new("What is the capital of Peru?", "handbook.md", null, "Lima");

    [Fact]
    public async Task Scripted_answers_are_scored_for_expected_words_and_a_cited_passage_from_the_expected_place()
    {
        var prompts = new List<(string Question, IReadOnlyList<Passage> Passages)>();
        // Each answer cites by number, as a model would: the number of the passage that holds the answer, or a wrong one.
        Task<WrittenAnswer> Write(string question, IReadOnlyList<Passage> passages, CancellationToken ct)
        {
            prompts.Add((question, passages));
            int NumberOf(string heading) => passages.ToList().FindIndex(p => p.Heading.Contains(heading)) + 1;
            var text = question switch
            {
                _ when question == Holiday.Question => $"Every full-time employee gets 28 paid days a year [{NumberOf("Annual leave")}].",
                _ when question == Moonlighting.Question => $"You need written approval from HR [{passages.Count + 7}].", // words right, citation names no passage
                _ when question == Meals.Question => $"The allowance is 45 euros a day [{NumberOf("Meals")}][{passages.Count + 1}].",
                _ => throw new InvalidOperationException($"unexpected question {question}"),
            };
            return Task.FromResult(AnswerEvaluation.Parse(text, passages));
        }

        var report = await AnswerEvaluation.EvaluateAsync((q, k) => handbook.Index.Search(q, k), [Holiday, Moonlighting, Meals, Peru], Write);
        output.WriteLine(report.ToString());

        // Peru matched nothing: the writer was never asked, and its answer counts as neither containing nor citing.
        Assert.Equal([Holiday.Question, Moonlighting.Question, Meals.Question], prompts.Select(p => p.Question));
        Assert.All(prompts, p => Assert.InRange(p.Passages.Count, 1, 5));
        var (holiday, moonlighting, meals, peru) = (report.Answers[0], report.Answers[1], report.Answers[2], report.Answers[3]);

        Assert.True(holiday.ContainsExpected);
        Assert.True(holiday.CitesRightPassage);
        Assert.Equal(1, holiday.PassageRank);

        Assert.True(moonlighting.ContainsExpected);
        Assert.False(moonlighting.CitesRightPassage);
        Assert.Empty(moonlighting.CitedNumbers);
        Assert.Equal([prompts[1].Passages.Count + 7], moonlighting.UnknownCitations);

        Assert.Null(meals.ContainsExpected); // the goal test names no words
        Assert.True(meals.CitesRightPassage);
        Assert.Single(meals.UnknownCitations);

        Assert.Null(peru.Answer);
        Assert.Null(peru.PassageRank);
        Assert.False(peru.ContainsExpected);
        Assert.False(peru.CitesRightPassage);

        Assert.Equal(3, report.ContainsScored);
        Assert.Equal(2 / 3.0, report.ContainsExpectedRate, 10);
        Assert.Equal(2 / 4.0, report.CitesRightPassageRate, 10);
        Assert.Equal(0.75, report.Recall.RecallAt(1));
    }

    [Fact]
    public void A_citation_counts_only_when_it_points_at_the_expected_file_and_section()
    {
        Passage leave = new("handbook.md#3", "handbook.md", ["Employee Handbook", "Leave", "Annual leave"], "Every full-time employee gets 28 days.");
        Passage sick = new("handbook.md#4", "handbook.md", ["Employee Handbook", "Leave", "Sick leave"], "Call your manager.");
        Passage other = new("other.md#1", "other.md", ["Annual leave"], "Contractors get 20 days.");
        IReadOnlyList<Passage> read = [sick, other, leave];

        Assert.False(AnswerEvaluation.Score(Holiday, AnswerEvaluation.Parse("You get 28 days [1][2].", read)).CitesRightPassage);
        Assert.True(AnswerEvaluation.Score(Holiday, AnswerEvaluation.Parse("You get 28 days [1, 3].", read)).CitesRightPassage);
        // A passage from the right place counts even when its text lacks the words: the answer must hold them.
        var scored = AnswerEvaluation.Score(Holiday with { ExpectedText = "holiday" }, AnswerEvaluation.Parse("Holiday: see [3].", read));
        Assert.True(scored.CitesRightPassage);
        Assert.True(scored.ContainsExpected);
        var notAnswered = AnswerEvaluation.Score(Holiday, AnswerEvaluation.Parse(GroundedAnswer.NotAnsweredSentence, read));
        Assert.True(notAnswered.SaysNotAnswered);
        Assert.False(notAnswered.ContainsExpected);
        Assert.False(notAnswered.CitesRightPassage);
    }

    [Theory]
    [InlineData("You get 28 days of holiday [1].", "28 days", true)]
    [InlineData("Days: twenty-eight, i.e. 28.", "28 days", true)]
    [InlineData("You get 25 days.", "5 days", false)]
    [InlineData("Claims within 30 days.", "30 days of the trip", false)]
    [InlineData("It is 0.30 EUROS per kilometre.", "0.30 euros", true)]
    [InlineData("", "anything", false)]
    public void Expected_words_are_whole_words_in_any_order_ignoring_case(string answer, string expected, bool contains) =>
        Assert.Equal(contains, AnswerEvaluation.ContainsWords(answer, expected));

    [Fact]
    public void A_question_file_reads_goal_tests_in_both_forms_and_explains_a_bad_line()
    {
        using var folder = new TempFolder();
        var path = folder.Write("questions.jsonl", """
            # handbook questions
            How many days of holiday? -> handbook.md / Annual leave / 28 days
            {"question": "What is the meal allowance?", "file": "expenses.txt", "section": "Meals", "contains": "45 euros"}

            {"question": "Where is the Berlin office?", "file": "offices.csv"}
            Who approves bereavement leave? -> handbook.md / / Bereavement
            """);
        var questions = RetrievalQuestionFile.Read(path);
        Assert.Equal(
            [
                new RetrievalQuestion("How many days of holiday?", "handbook.md", "Annual leave", "28 days"),
                new RetrievalQuestion("What is the meal allowance?", "expenses.txt", "Meals", "45 euros"),
                new RetrievalQuestion("Where is the Berlin office?", "offices.csv"),
                new RetrievalQuestion("Who approves bereavement leave?", "handbook.md", null, "Bereavement"),
            ], questions);

        var bad = folder.Write("bad.jsonl", "How many days?\n");
        var error = Assert.Throws<EngineException>(() => RetrievalQuestionFile.Read(bad));
        Assert.StartsWith("Line 1 of 'bad.jsonl' is not a goal test:", error.Message);
        var noFile = folder.Write("nofile.jsonl", "{\"question\": \"Hello?\"}\n");
        Assert.Contains("needs \"question\" and \"file\"", Assert.Throws<EngineException>(() => RetrievalQuestionFile.Read(noFile)).Message);
        var empty = folder.Write("empty.jsonl", "# nothing\n");
        Assert.Contains("has no questions", Assert.Throws<EngineException>(() => RetrievalQuestionFile.Read(empty)).Message);
    }
}
