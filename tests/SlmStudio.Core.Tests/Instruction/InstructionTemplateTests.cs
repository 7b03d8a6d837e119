using SlmStudio.Core.Instruction;
using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Tests.Instruction;

public sealed class InstructionTemplateTests
{
    private static string Stories => Path.Combine(TestPaths.Fixtures, "stories260K-hf");

    private static readonly ChatMessage[] TwoTurns =
    [
        new("user", "What colour is Tom's door?"), new("assistant", "Tom's door is red."),
        new("user", "And Ann's hat?"), new("assistant", "Ann's hat is blue."),
    ];

    [Fact]
    public void A_base_model_without_a_chat_template_gets_the_plain_template_ending_answers_with_end_of_text()
    {
        var tokenizer = TokenizerFile.Load(Path.Combine(Stories, "tokenizer.json"));
        var template = InstructionTemplate.For(tokenizer, Stories);

        Assert.Equal(InstructionTemplateKind.PlainText, template.Kind);
        Assert.Equal([tokenizer.EosId!.Value], template.EndOfTurnIds(tokenizer));
        var tokens = template.Tokenize(tokenizer, TwoTurns, 1000);

        // The answer tokens decode to exactly the two answers, each followed by its end-of-text token.
        var answerIds = tokens.Ids.Where((_, i) => tokens.IsAnswer[i]).ToArray();
        Assert.Equal(2, answerIds.Count(id => id == tokenizer.EosId));
        Assert.Equal("Tom'sdoorisred.Ann'shatisblue.", string.Concat(tokenizer.Decode(answerIds).Where(c => !char.IsWhiteSpace(c))));
        Assert.Equal(tokenizer.BosId, tokens.Ids[0]);
        Assert.False(tokens.IsAnswer[0]);
    }

    [Fact]
    public void The_prompt_the_model_is_given_is_exactly_the_tokens_before_the_first_answer()
    {
        var tokenizer = TokenizerFile.Load(Path.Combine(Stories, "tokenizer.json"));
        var template = InstructionTemplate.For(tokenizer, Stories);
        var tokens = template.Tokenize(tokenizer, TwoTurns, 1000);
        var prompt = template.PromptIds(tokenizer, TwoTurns[..1]);

        var firstAnswer = Array.IndexOf(tokens.IsAnswer, true);
        Assert.Equal(prompt, tokens.Ids[..firstAnswer]);
        Assert.DoesNotContain(true, tokens.IsAnswer[..firstAnswer]);
    }

    [Fact]
    public void Our_own_tokenizer_gets_chat_tokens_and_a_ChatML_template_whose_end_of_turn_token_ends_each_answer()
    {
        var text = string.Join("\n", InstructionTestData.Pairs(30).Select(p => p.Question + " " + p.Answer));
        var tokenizer = ChatVocabulary.Train(320, [text], CancellationToken.None);
        Assert.Equal(320, tokenizer.VocabSize);
        Assert.True(ChatVocabulary.IsIn(tokenizer));
        // A document that spells a chat token never becomes the token.
        Assert.True(tokenizer.Encode(ChatVocabulary.TurnEnd, false, splitSpecialTokens: false).Length > 1);

        var template = InstructionTemplate.For(tokenizer, baseModelFolder: null);
        Assert.Equal(InstructionTemplateKind.OwnChatMl, template.Kind);
        var turnEnd = tokenizer.Encode(ChatVocabulary.TurnEnd, false, true).Single();
        Assert.Equal(turnEnd, template.EndOfTurnIds(tokenizer)[0]);

        var tokens = template.Tokenize(tokenizer, TwoTurns, 1000);
        var answers = tokens.Ids.Where((_, i) => tokens.IsAnswer[i]).ToArray();
        Assert.Equal(2, answers.Count(id => id == turnEnd));
        Assert.Equal("Tom's door is red.Ann's hat is blue.", tokenizer.Decode(answers));
        Assert.Equal("What colour is Tom's door?", tokenizer.Decode(template.PromptIds(tokenizer, TwoTurns[..1])).Replace("user\n", "").Replace("\nassistant\n", ""));
    }

    [Fact]
    public void The_template_written_into_tokenizer_config_is_recognised_again()
    {
        var dir = TestPaths.NewTempDir("slm-template");
        try
        {
            var tokenizer = TokenizerFile.Load(Path.Combine(Stories, "tokenizer.json"));
            var template = InstructionTemplate.For(tokenizer, Stories);
            template.WriteTokenizerConfig(dir, tokenizer, 512, Stories);
            var loaded = InstructionTemplate.Load(dir, tokenizer);
            Assert.NotNull(loaded);
            Assert.Equal(InstructionTemplateKind.PlainText, loaded.Kind);
            Assert.Equal(template.PromptIds(tokenizer, TwoTurns[..1]), loaded.PromptIds(tokenizer, TwoTurns[..1]));
            Assert.Contains("\"legacy\": false", File.ReadAllText(Path.Combine(dir, "tokenizer_config.json"))); // the base model's own settings are kept
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Cutting_to_the_context_cuts_the_mask_with_the_ids()
    {
        var tokenizer = TokenizerFile.Load(Path.Combine(Stories, "tokenizer.json"));
        var template = InstructionTemplate.For(tokenizer, Stories);
        var full = template.Tokenize(tokenizer, TwoTurns, 1000);
        var cut = template.Tokenize(tokenizer, TwoTurns, 20);
        Assert.Equal(full.Ids[..20], cut.Ids);
        Assert.Equal(full.IsAnswer[..20], cut.IsAnswer);
    }
}
