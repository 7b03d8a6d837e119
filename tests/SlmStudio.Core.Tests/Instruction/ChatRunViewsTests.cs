using SlmStudio.Core.Instruction;
using SlmStudio.Core.Verdicts;

namespace SlmStudio.Core.Tests.Instruction;

/// <summary>How a chat run is shown: its samples without template tokens, and its plain verdict from answers and goal tests.</summary>
public sealed class ChatRunViewsTests
{
    [Fact]
    public void A_chatml_sample_reads_as_question_then_answer_without_template_tokens()
    {
        var sample = "nd|> <|im_start|>user\nWhat does the stapler cost?<|im_end|>\n<|im_start|>assistant\nThe stapler costs 12 dollars.<|im_end|>\n<|im_start|>user\nAnd the";
        var turns = ChatSampleText.Turns(sample);
        Assert.Equal(["user", "assistant", "user"], turns.Select(t => t.Role));
        Assert.Equal("What does the stapler cost?", turns[0].Content);
        Assert.Equal("The stapler costs 12 dollars.", turns[1].Content);
        Assert.Equal("What does the stapler cost? → The stapler costs 12 dollars. → And the", ChatSampleText.QuestionAndAnswer(sample));
    }

    [Theory]
    [InlineData("<s>### Question:\nWhen is billing open?\n\n### Answer:\nBilling is open Monday to Friday.</s>\n\n### Question:\nWho")]
    [InlineData("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhen is billing open?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nBilling is open Monday to Friday.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho")]
    [InlineData("<|user|>\nWhen is billing open?<|end|>\n<|assistant|>\nBilling is open Monday to Friday.<|end|>\n<|user|>\nWho")]
    [InlineData("<s>[INST] When is billing open? [/INST] Billing is open Monday to Friday.</s>[INST] Who")]
    public void Every_template_the_studio_trains_with_reads_the_same(string sample)
    {
        Assert.Equal("When is billing open? → Billing is open Monday to Friday. → Who", ChatSampleText.QuestionAndAnswer(sample));
        Assert.DoesNotContain(ChatSampleText.Turns(sample), t => t.Content.Contains('<') || t.Content.Contains("###") || t.Content.Contains("[INST]"));
    }

    [Fact]
    public void Text_before_the_first_marker_is_the_rest_of_a_turn_and_system_text_is_left_out()
    {
        var sample = "costs 5 dollars.<|im_end|>\n<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>";
        var turns = ChatSampleText.Turns(sample);
        Assert.Equal([ChatSampleText.Unknown, "system", "user"], turns.Select(t => t.Role));
        Assert.Equal("costs 5 dollars. → Hi", ChatSampleText.QuestionAndAnswer(sample));
    }

    [Theory]
    [InlineData(0.05, 0.75, 5, 5, VerdictLevel.NotUsefulYet)] // hardly a word in common
    [InlineData(0.40, 0.45, 5, 5, VerdictLevel.NotUsefulYet)] // worse than before training
    [InlineData(0.70, 0.05, 1, 4, VerdictLevel.NotUsefulYet)] // fails most goal tests
    [InlineData(0.45, 0.05, 4, 4, VerdictLevel.UsableForDrafts)]
    [InlineData(0.70, 0.05, 0, 0, VerdictLevel.UsableForDrafts)] // no goal tests to show it does the job
    [InlineData(0.70, 0.05, 4, 5, VerdictLevel.Good)]
    public void The_verdict_follows_held_out_token_f1_and_goal_tests(double f1, double before, int passed, int goals, VerdictLevel expected)
    {
        var verdict = ChatVerdict.From(new ChatMeasurements(40, f1, before, passed, goals));
        Assert.Equal(expected, verdict.Level);
        Assert.Equal(expected != VerdictLevel.NotUsefulYet, verdict.FitForProduction);
        Assert.EndsWith(".", verdict.Why);
        Assert.False(string.IsNullOrWhiteSpace(verdict.NextStep));
    }

    [Fact]
    public void A_weak_model_from_scratch_is_pointed_to_a_base_model_and_an_unmeasured_one_is_not_useful()
    {
        var weak = ChatVerdict.From(new ChatMeasurements(40, 0.1, 0.0, 0, 0, FromBaseModel: false));
        Assert.Contains("base model", weak.NextStep);
        Assert.Contains("10%", weak.Why);
        Assert.Equal(VerdictLevel.NotUsefulYet, ChatVerdict.From(new ChatMeasurements(0, 0.9, 0, 3, 3)).Level);
    }

    [Fact]
    public void The_benchmark_pairs_are_the_same_every_time_and_hold_out_unseen_wordings_of_seen_facts()
    {
        var facts = CompanyQuestions.Facts();
        var (train, heldOut) = CompanyQuestions.Split();
        Assert.Equal(facts.Count, heldOut.Count);
        Assert.Equal(facts.Count * (CompanyQuestions.PhrasingsPerFact - 1), train.Count);
        Assert.True(train.Count >= 300, $"{train.Count} training pairs");
        Assert.Equal(train, CompanyQuestions.Split().Train);
        Assert.All(facts, f => Assert.Equal(CompanyQuestions.PhrasingsPerFact, f.Questions.Distinct().Count()));
        var trainQuestions = train.Select(p => p.Question).ToHashSet();
        var trainAnswers = train.Select(p => p.Answer).ToHashSet();
        Assert.All(heldOut, p =>
        {
            Assert.DoesNotContain(p.Question, trainQuestions); // the wording is new...
            Assert.Contains(p.Answer, trainAnswers);            // ...the fact is not
        });
        // Every question is unique across facts, so the engine's own split never puts one question on both sides.
        Assert.Equal(train.Count + heldOut.Count, train.Concat(heldOut).Select(p => p.Question).Distinct().Count());
        var csv = InstructionData.Read(CompanyQuestions.Csv(train), SlmStudio.Core.Data.DocumentKind.Csv, "faq.csv", new InstructionColumns());
        Assert.Equal(train.Count, csv.Conversations.Count(c => c.IsUsable));
    }
}
