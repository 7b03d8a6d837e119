using SlmStudio.Core.Instruction;
using SlmStudio.Core.Models;
using static TorchSharp.torch;

namespace SlmStudio.Core.Tests.Instruction;

public sealed class InstructionObjectiveTests
{
    private static string Stories => Path.Combine(TestPaths.Fixtures, "stories260K-hf");

    private static TokenizedConversation Conversation(int[] ids, int answerFrom, int answerTo) =>
        new(ids, [.. ids.Select((_, i) => i >= answerFrom && i < answerTo)]);

    private static InstructionObjective Objective(params TokenizedConversation[] train) =>
        new(train, train, batchSize: 4, seed: 1, padId: 0, CPU);

    [Fact]
    public void Targets_are_the_next_answer_tokens_and_ignore_everything_else()
    {
        var c = Conversation([1, 10, 11, 12, 20, 21, 2, 13], answerFrom: 4, answerTo: 7);
        var (x, y) = Objective(c).ToTensors([c]);
        Assert.Equal(new long[] { 1, 10, 11, 12, 20, 21, 2 }, x.data<long>().ToArray());
        Assert.Equal(new long[] { -100, -100, -100, 20, 21, 2, -100 }, y.data<long>().ToArray());
    }

    [Fact]
    public void Changing_a_prompt_token_target_leaves_the_loss_unchanged()
    {
        var (model, _) = ModelFolder.Load(Stories);
        using (model)
        {
            // The last token is template text after the answer (not an answer token): it is only ever a target.
            var a = Conversation([1, 50, 60, 70, 80, 90, 2, 13], 4, 7);
            var b = Conversation([1, 50, 60, 70, 80, 90, 2, 300], 4, 7);
            var answerChanged = Conversation([1, 50, 60, 70, 80, 91, 2, 13], 4, 7);
            using var _ = no_grad();
            var objective = Objective(a);
            var lossA = objective.LossOf(model, [a]).item<float>();
            Assert.Equal(lossA, objective.LossOf(model, [b]).item<float>());
            Assert.NotEqual(lossA, objective.LossOf(model, [answerChanged]).item<float>()); // answer targets do count
        }
    }

    [Fact]
    public void Padding_isolates_conversations_in_a_batch()
    {
        var (model, _) = ModelFolder.Load(Stories);
        using (model)
        {
            var shortOne = Conversation([1, 40, 41, 42, 43, 2], 3, 6);
            var longOne = Conversation([1, 70, 71, 72, 73, 74, 75, 76, 77, 2], 5, 10);
            using var _ = no_grad();
            var objective = Objective(shortOne, longOne);
            var alone = objective.LossOf(model, [shortOne]).item<float>();
            var longAlone = objective.LossOf(model, [longOne]).item<float>();
            var together = objective.LossOf(model, [shortOne, longOne]).item<float>();
            // The batch mean is the token-weighted mean of each alone: the padding after the short one changes nothing.
            Assert.Equal((3 * alone + 5 * longAlone) / 8, together, 4);
        }
    }

    [Fact]
    public void Batches_go_through_every_conversation_once_per_pass_and_repeat_for_the_same_step()
    {
        var train = Enumerable.Range(0, 10).Select(i => Conversation([1, 100 + i, 2], 1, 3)).ToArray();
        var objective = new InstructionObjective(train, train, batchSize: 5, seed: 7, padId: 0, CPU);
        var pass = objective.BatchAt(0, 0).Concat(objective.BatchAt(1, 0)).Select(c => c.Ids[1]).ToList();
        Assert.Equal(Enumerable.Range(100, 10), pass.Order());
        Assert.Equal(objective.BatchAt(1, 0), new InstructionObjective(train, train, 5, 7, 0, CPU).BatchAt(1, 0));
    }
}

public sealed class AnswerMetricsTests
{
    [Fact]
    public void Normalisation_ignores_case_punctuation_and_articles()
    {
        Assert.Equal(["cat", "sat", "on", "mat"], AnswerMetrics.Words("The cat sat on a mat!"));
        Assert.Equal(1, AnswerMetrics.ExactMatch("The Cat!", "cat"));
        Assert.Equal(0, AnswerMetrics.ExactMatch("red cat", "cat red"));
    }

    [Fact]
    public void Token_f1_and_rouge_l_match_hand_computed_values()
    {
        // expected: red green blue yellow; got: blue red green.
        // F1: 3 shared words, P = 3/3, R = 3/4 -> 2 * 1 * 0.75 / 1.75 = 6/7.
        Assert.Equal(6.0 / 7, AnswerMetrics.TokenF1("red green blue yellow", "blue red green"), 10);
        // ROUGE-L: longest common subsequence "red green" = 2, P = 2/3, R = 2/4 -> 2 * (1/3) / (7/6) = 4/7.
        Assert.Equal(4.0 / 7, AnswerMetrics.RougeL("red green blue yellow", "blue red green"), 10);
        // Repeated words count only as often as in both: got "red red" against "red green": P = 1/2, R = 1/2.
        Assert.Equal(0.5, AnswerMetrics.TokenF1("red green", "red red"), 10);
        Assert.Equal(0, AnswerMetrics.TokenF1("red", "blue"));
        Assert.Equal(1, AnswerMetrics.RougeL("", ""));
        Assert.Equal(0, AnswerMetrics.RougeL("red", ""));
    }

    [Fact]
    public void Evaluation_averages_and_ranks_best_and_worst()
    {
        var conversations = new[]
        {
            Conversation.Pair("q1", "red green", row: 2), Conversation.Pair("q2", "blue", row: 3), Conversation.Pair("q3", "one two three four", row: 4),
        };
        var answers = new Dictionary<string, string> { ["q1"] = "red green", ["q2"] = "yellow", ["q3"] = "one two" };
        var evaluation = AnswerEvaluation.Of(conversations, prompt => answers[prompt[^1].Content]);
        Assert.Equal(1.0 / 3, evaluation.ExactMatch, 10);
        Assert.Equal((1 + 0 + 2.0 / 3) / 3, evaluation.TokenF1, 10); // q3: P = 1, R = 1/2 -> 2/3
        Assert.Equal([2, 4], evaluation.Best.Select(e => e.Row));
        Assert.Equal(3, Assert.Single(evaluation.Worst).Row); // few questions: split between the lists, none shown twice
        Assert.Equal("yellow", evaluation.Worst[0].Got);
        Assert.Equal("blue", evaluation.Worst[0].Expected);
    }
}
