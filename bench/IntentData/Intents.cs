namespace IntentData;

/// <summary>
/// The intents of a made-up online shop with subscriptions, each with message templates. Related intents share words
/// on purpose (refund request / refund status, cancel order / cancel subscription, change address / change delivery
/// date), as real support queues do, so that picking out one keyword is not enough.
/// </summary>
internal static class Intents
{
    public static readonly (string Label, string[] Templates)[] All =
    [
        ("order_status", [
            "where is my order {order}", "my order {order} still hasn't arrived", "any update on order {order}?",
            "has my order shipped yet", "when will my {product} arrive", "i ordered a {product} on {date} and have heard nothing",
            "can you tell me the status of my order", "it's been {days} days and my order is still not here",
            "order {order} says processing for ages, what is going on"]),
        ("track_parcel", [
            "the tracking number for {order} doesn't work", "how do i track my parcel", "tracking hasn't updated since {date}",
            "can you send me the tracking link for my {product}", "the courier tracking page says parcel not found",
            "where can i see the tracking for order {order}", "tracking shows delivered but i have nothing"]),
        ("cancel_order", [
            "please cancel my order {order}", "i want to cancel the {product} i just ordered", "cancel order {order} before it ships",
            "i ordered the wrong size, can you cancel the order", "how do i cancel an order i placed today",
            "i changed my mind about the {product}, please cancel the order", "stop order {order}, i don't need it anymore"]),
        ("change_order", [
            "can i add a {product} to my order {order}", "i need to change the size on order {order}",
            "can i swap the {product} in my order for a different colour", "please remove one item from order {order}",
            "i want to change the quantity on my order", "is it too late to change my order {order}"]),
        ("change_address", [
            "i need to change my delivery address", "i moved to {city}, please update my address",
            "can you send order {order} to a different address", "my address is wrong on order {order}",
            "update my shipping address to {city} please", "the postcode on my account is wrong"]),
        ("change_delivery_date", [
            "can you deliver order {order} next week instead", "i won't be home on {date}, can you change the delivery day",
            "please reschedule my delivery to {date}", "can the courier come on a different day",
            "is it possible to delay the delivery of my {product}", "move my delivery to the weekend please"]),
        ("missing_item", [
            "my parcel arrived but the {product} is missing", "order {order} came without one of the items",
            "only half of my order arrived", "the box was empty, no {product} inside", "you forgot the charger in my order {order}",
            "i received {n} items instead of {m}"]),
        ("damaged_item", [
            "my {product} arrived broken", "the {product} was damaged in delivery", "order {order} arrived with a cracked screen",
            "the box was crushed and the {product} is scratched", "the {product} stopped working after {days} days",
            "item arrived damaged, what can i do"]),
        ("wrong_item", [
            "i got the wrong item in order {order}", "you sent me a {product} but i ordered a {product2}",
            "wrong colour delivered for order {order}", "this is not what i ordered", "received someone else's parcel",
            "the size i received is not the size i ordered"]),
        ("return_item", [
            "how do i return my {product}", "i want to send back order {order}", "can i return an item after {days} days",
            "please send me a return label for the {product}", "what is your return policy", "i'd like to return the {product}, it doesn't fit"]),
        ("refund_request", [
            "i want a refund for order {order}", "please refund the {amount} for the {product}", "can i get my money back for the {product}",
            "refund me for the missing item", "i returned the {product}, please refund me", "i would like a full refund"]),
        ("refund_status", [
            "where is my refund for order {order}", "i still haven't received my refund", "you said you would refund {amount} {days} days ago",
            "how long does a refund take", "my refund hasn't shown up on my {card}", "any news on the refund for my {product}"]),
        ("payment_failed", [
            "my payment keeps failing", "my {card} was declined at checkout", "payment error when i try to pay for the {product}",
            "why was my card declined", "checkout says payment could not be processed", "i can't pay with my {card}"]),
        ("double_charge", [
            "i was charged twice for order {order}", "you took {amount} two times", "there are two payments for the same order",
            "double charge on my {card}", "why do i see the same charge twice on my statement", "charged twice for my {plan} this month"]),
        ("invoice_request", [
            "can you send me an invoice for order {order}", "i need a vat invoice for my company", "where can i download my invoice",
            "please email the invoice for {amount}", "the invoice is missing my company name", "i need receipts for the last {n} orders"]),
        ("payment_methods", [
            "do you accept paypal", "can i pay with {card}", "what payment methods do you take", "can i pay by bank transfer",
            "do you offer buy now pay later", "can i pay in instalments for the {product}"]),
        ("discount_code", [
            "my discount code doesn't work", "the promo code {code} says invalid", "i forgot to apply my coupon to order {order}",
            "is there a discount for students", "where do i enter a voucher code", "the code {code} expired yesterday, can you still apply it"]),
        ("price_match", [
            "i saw the {product} cheaper elsewhere", "do you price match", "the {product} dropped in price a day after i bought it",
            "another shop sells it for {amount}, can you match that", "can i get the difference back since the price went down"]),
        ("cancel_subscription", [
            "i want to cancel my subscription", "please stop my {plan}", "how do i end my membership", "cancel my {plan} at the end of the month",
            "i don't want to be charged for the {plan} anymore", "unsubscribe me from the monthly box"]),
        ("pause_subscription", [
            "can i pause my subscription for {n} months", "skip next month's box please", "i'm travelling, can i put my {plan} on hold",
            "pause my deliveries until {date}", "can i freeze my membership for a while"]),
        ("upgrade_plan", [
            "how do i upgrade to the {plan}", "i want to switch to a bigger plan", "can i move from basic to premium",
            "what do i get if i upgrade", "upgrade my account to the {plan} please", "i'd like to change my plan to something cheaper"]),
        ("reset_password", [
            "i forgot my password", "the password reset email never arrives", "how do i change my password",
            "reset password link is expired", "i can't remember my password and the reset doesn't work"]),
        ("login_problem", [
            "i can't log in to my account", "the app says my account is locked", "login keeps failing even with the right password",
            "i get an error when i sign in", "two factor code never comes so i can't log in", "my account was logged out and won't let me back in"]),
        ("update_account", [
            "how do i change the email on my account", "i need to update my phone number", "can i change my username",
            "please correct the spelling of my name on my account", "update my email to a new address"]),
        ("delete_account", [
            "please delete my account", "i want all my data removed", "how do i close my account for good",
            "remove my personal information from your system", "delete my account and stop emailing me"]),
        ("newsletter_unsubscribe", [
            "stop sending me marketing emails", "how do i unsubscribe from the newsletter", "i get too many promotional emails",
            "remove me from your mailing list", "i keep getting texts with offers, make it stop"]),
        ("product_info", [
            "is the {product} waterproof", "what size is the {product}", "does the {product} come with a charger",
            "what are the dimensions of the {product}", "is the {product} compatible with iphone", "what is the {product} made of"]),
        ("stock_availability", [
            "when will the {product} be back in stock", "is the {product} available in blue", "the {product} says out of stock, will you restock",
            "do you have the {product} in size {size}", "can you notify me when the {product} is available"]),
        ("warranty_claim", [
            "is my {product} still under warranty", "the {product} broke after {n} months, is it covered", "how do i make a warranty claim",
            "how long is the warranty on the {product}", "my {product} stopped charging, can i get it repaired under warranty"]),
        ("shipping_cost", [
            "how much is delivery to {city}", "do you offer free shipping", "why is shipping so expensive", "what does express delivery cost",
            "is there free delivery over {amount}", "do you ship to {city} and how much does it cost"]),
        ("delivery_time", [
            "how long does delivery take to {city}", "if i order today when will it arrive", "do you have next day delivery",
            "how many days does standard shipping take", "can i get the {product} before {date}"]),
        ("store_hours", [
            "what are your opening hours", "is the {city} store open on sunday", "what time do you close today",
            "are you open on public holidays", "when does the shop in {city} open"]),
        ("speak_to_human", [
            "i want to talk to a real person", "can i speak to an agent", "get me a human please", "how do i call customer service",
            "this bot is useless, connect me to someone", "is there a phone number i can call"]),
        ("complaint", [
            "your service is terrible", "i am very unhappy with how my order was handled", "i want to make a formal complaint",
            "this is the third time this has happened, i'm furious", "worst customer experience i've ever had", "nobody answers my emails, this is unacceptable"]),
        ("gift_card", [
            "how do i use a gift card", "my gift card balance is wrong", "can i buy a gift card for {amount}",
            "the gift card code doesn't work at checkout", "do gift cards expire"]),
        ("loyalty_points", [
            "how many points do i have", "my loyalty points weren't added for order {order}", "how do i spend my reward points",
            "do my points expire", "why did my points balance go down"]),
    ];

    public static readonly string[] Products = ["laptop", "phone case", "headphones", "blender", "coffee machine", "running shoes", "jacket", "desk lamp", "charger", "backpack", "smartwatch", "kettle", "sofa cushion", "tablet", "printer"];
    public static readonly string[] Cities = ["London", "Leeds", "Dublin", "Manchester", "Bristol", "Glasgow", "Cardiff", "Cork", "York", "Bath"];
    public static readonly string[] Cards = ["visa", "mastercard", "amex", "debit card", "credit card", "apple pay"];
    public static readonly string[] Plans = ["premium plan", "basic plan", "family plan", "monthly box", "annual membership"];
    public static readonly string[] Dates = ["monday", "tuesday", "friday", "the 3rd", "the 15th", "last week", "yesterday", "march 2", "the weekend"];
    public static readonly string[] Sizes = ["s", "m", "l", "xl", "10", "42"];
    public static readonly string[] Openers = ["hi", "hello", "hey", "good morning", "hi there", "dear support", "hello team", "excuse me"];
    public static readonly string[] Closers = ["thanks", "thank you", "thx", "cheers", "regards", "asap please", "please help", "many thanks"];
}
